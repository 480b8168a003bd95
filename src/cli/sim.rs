//! The simulator's commands: `sim` (with `sim deauthorize`) and `demo`.

use std::net::SocketAddr;

use clap::Subcommand;
use secrecy::SecretString;

use super::options::secret;
use super::parse::count;
use super::{LimitOptions, MetricsOptions, OutputOptions, PseudonymOptions};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:4010")]
    pub listen: SocketAddr,
    /// Seed of the generated data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of accounts, 1-1000
    #[arg(long, default_value_t = 3, value_parser = count(1, 1000))]
    pub accounts: usize,
    /// Days of history ending today, 1-3650
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Average calls per account and day, 0-1000000
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub calls_per_day: u32,
    /// The Auth Token the simulator accepts [default: sim-auth-token]
    #[arg(
        long,
        env = "TWILIO_SIM_AUTH_TOKEN",
        hide_env_values = true,
        global = true,
        value_parser = secret()
    )]
    pub sim_auth_token: Option<SecretString>,
    /// Subaccounts per account, 0-100; the first is the Connect subaccount our app is granted (get-all)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = count(0, 100))]
    pub subaccounts: usize,
    /// The Authorize URL the consent page (/authorize/{CN…}) redirects to
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
    /// Keep each successful answer and serve it again to the same request, until the clock
    /// moves (for benchmarks: memory grows with the pages read)
    #[arg(long)]
    pub cache_pages: bool,
    #[command(flatten)]
    pub faults: SimFaultArgs,
    #[command(subcommand)]
    pub command: Option<SimCommand>,
}

/// Tools that play Twilio's part towards our receiver.
#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Send a deauthorize callback, signed with --sim-auth-token (or deliberately not)
    Deauthorize(SimDeauthorizeArgs),
}

#[derive(clap::Args, Debug)]
pub struct SimDeauthorizeArgs {
    /// The receiver's Deauthorize URL, e.g. http://127.0.0.1:8080/connect/deauthorize
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The account that revoked (AC…)
    #[arg(long, value_name = "AC…")]
    pub account: String,
    /// The Connect App (CN…) [default: the simulator's for --seed]
    #[arg(long, value_name = "CN…")]
    pub app: Option<String>,
    /// GET (parameters in the query) or POST (form body)
    #[arg(long, default_value = "post", value_name = "METHOD")]
    pub method: String,
    /// Sign with a wrong key
    #[arg(long, conflicts_with = "unsigned")]
    pub bad_signature: bool,
    /// Send no X-Twilio-Signature header
    #[arg(long)]
    pub unsigned: bool,
    /// The simulator (e.g. http://127.0.0.1:4010): revoke the grant there first, as the user
    /// does at Twilio before Twilio calls back (the receiver tries the grant, and ignores a
    /// callback for one Twilio still accepts)
    #[arg(long, value_name = "URL")]
    pub sim: Option<String>,
}

/// Faults the simulator injects (all off by default); choices derive from --seed.
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Faults")]
pub struct SimFaultArgs {
    /// Latency added to every API request, in milliseconds, 0-600000
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub latency_ms: u64,
    /// Answer 429 while more than N requests of one account are in flight, 1-100000
    #[arg(long, value_name = "N", value_parser = count(1, 100_000))]
    pub limit_in_flight: Option<usize>,
    /// Answer 429 when one account sends more than N requests within a second, 1-1000000
    #[arg(long, value_name = "N", value_parser = count(1, 1_000_000))]
    pub limit_per_second: Option<usize>,
    /// Share of 429s that carry Retry-After (0..1)
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    pub retry_after_share: f64,
    /// Share of requests answered 500 or 503 (0..1)
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub server_errors: f64,
    /// Share of requests whose connection drops mid-body (0..1)
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub dropped_connections: f64,
    /// Share of requests whose body is cut short (0..1)
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub truncated_bodies: f64,
    /// Revoke an account's grant after it made N requests
    #[arg(long, value_name = "N")]
    pub revoke_after: Option<u64>,
    /// Misbehave on every list page as Twilio never does: redirect=URL, foreign-link,
    /// foreign-record, link-loop, endless-pages, gzip-bomb[=MIB] or oversized-page
    #[arg(long, value_name = "MODE", value_parser = |s: &str| s.parse::<twilio_sim::Hostile>().map(Box::new))]
    pub hostile: Option<Box<twilio_sim::Hostile>>,
}

/// The demo writes Parquet to `--output` (default ./export) and keeps its own fresh database in
/// `{output}/_state/`; it brings its own simulated API and token.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Days of history to export, 1-3650
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    #[command(flatten)]
    pub output: OutputOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
    #[command(flatten)]
    pub pseudonym: PseudonymOptions,
}
