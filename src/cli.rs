//! The command line: raw arguments only. Doc comments are the `--help` text.

use std::net::SocketAddr;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use secrecy::SecretString;

use crate::config::{secret, GlobalArgs};

/// Export the call logs and usage records of every Twilio account connected to your app
/// (Twilio Connect) to partitioned Parquet.
#[derive(Parser, Debug)]
#[command(
    name = "twilio-export",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments like [`Parser::try_parse`], and notes in
    /// [`GlobalArgs::auth_token_in_argv`] whether the Auth Token was given on the command line
    /// (rather than in the environment or a file).
    pub fn parse_args() -> Result<Self, clap::Error> {
        Self::parse_from_args(std::env::args_os())
    }

    /// [`Cli::parse_args`] of the given arguments (the first is the program name).
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        cli.global.auth_token_in_argv =
            matches.value_source("auth_token") == Some(ValueSource::CommandLine);
        Ok(cli)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the Connect callback receiver (HTTP)
    Serve(ServeArgs),
    /// Manage the connected accounts
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Run jobs once: every due window of every active account (for cron and CronJobs)
    Run(RunArgs),
    /// Stay up and run each job on its cron schedule; stops cleanly on SIGTERM/SIGINT
    Schedule,
    /// Export an inclusive range of UTC days; an account another process is exporting is
    /// skipped and named, and the command exits 1
    Backfill(BackfillArgs),
    /// Show accounts, last runs, partitions and failures
    Status(JsonFlag),
    /// Print the exported schemas, or the DDL that lets a warehouse read the export
    Schema(SchemaArgs),
    /// Run the built-in Twilio API simulator
    Sim(SimArgs),
    /// Run the whole pipeline against the simulator and print what to query
    Demo(DemoArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "TWILIO_EXPORT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The public address Twilio uses to reach this server (needed to check signatures behind a proxy)
    /// [default: http://LISTEN]; the Authorize URL is {public-url}/connect/authorize and the
    /// Deauthorize URL {public-url}/connect/deauthorize
    #[arg(long, env = "TWILIO_EXPORT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Where the Connect button sends users ({base}/authorize/{CN…})
    #[arg(
        long,
        env = "TWILIO_CONNECT_BASE",
        default_value = "https://www.twilio.com",
        value_name = "URL"
    )]
    pub connect_base: String,
    /// Also register the accounts a new grant can read (the user's parent account and its
    /// subaccounts), reached with the Connect account's credentials
    #[arg(
        long,
        env = "TWILIO_EXPORT_DISCOVER",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub discover: bool,
    /// Same as --discover false
    #[arg(long)]
    pub no_discover: bool,
}

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// Register a connected account (verified against the API unless --no-verify)
    Add {
        /// Account sids (AC…)
        #[arg(required = true, value_name = "AC…")]
        sids: Vec<String>,
        /// Register without asking the API
        #[arg(long)]
        no_verify: bool,
    },
    /// List the registered accounts
    List(JsonFlag),
    /// Forget accounts (their exported files stay)
    Remove {
        #[arg(required = true, value_name = "AC…")]
        sids: Vec<String>,
    },
    /// Re-check accounts against the API and record Twilio's status of each (all when none
    /// are given)
    Verify {
        #[arg(value_name = "AC…")]
        sids: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
pub struct JsonFlag {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run these jobs now whatever their schedule (repeatable); default: each job for the
    /// accounts it is due for
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,
    /// Only the accounts of shard I of N (e.g. 0/4), for several workers. Without it, in a
    /// Kubernetes Indexed Job, JOB_COMPLETION_INDEX with TWILIO_EXPORT_SHARDS=N means
    /// --shard INDEX/N; one of the two without the other is an error (exit 2)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    /// calls or usage-records
    #[arg(long)]
    pub resource: String,
    /// First UTC day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last UTC day, inclusive (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Only these accounts (repeatable); default: every active account
    #[arg(long = "account", value_name = "AC…")]
    pub accounts: Vec<String>,
    /// Windows exported at the same time, 1-256 [default: max-in-flight × accounts, at most 64]
    #[arg(long, value_name = "N", value_parser = count(1, 256))]
    pub concurrency: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// calls or usage-records (default: both)
    #[arg(long)]
    pub resource: Option<String>,
    /// json (the schemas/ contract), arrow, or the DDL that lets a warehouse read the export:
    /// duckdb, bigquery, snowflake, spark (in place, hive-partitioned) or postgres (a table to
    /// load into; sql is the same)
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Where the DDL finds the export's root: s3://bucket/prefix, gs://…, a directory, or for
    /// snowflake a stage (@stage/prefix) [default: --output]
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
}

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
        value_parser = secret
    )]
    pub sim_auth_token: Option<SecretString>,
    #[command(flatten)]
    pub faults: SimFaultArgs,
    /// Subaccounts per account, 0-100; the first is the Connect subaccount our app is granted (get-all)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = count(0, 100))]
    pub subaccounts: usize,
    /// The Authorize URL the consent page (/authorize/{CN…}) redirects to
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
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
}

/// Faults the simulator injects (all off by default); choices derive from --seed.
#[derive(clap::Args, Debug, Default)]
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
    #[arg(long, value_name = "MODE", value_parser = |s: &str| s.parse::<crate::sim::Hostile>().map(Box::new))]
    pub hostile: Option<Box<crate::sim::Hostile>>,
}

/// The demo writes Parquet to `--output` (default ./export) and keeps its own fresh database in
/// `{output}/_state/`; it ignores the database, API and token options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Days of history to export, 1-3650
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
}

/// A count from `min` to `max` (clap's message on a bad value gives the range).
fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=max)
}
