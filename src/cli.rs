//! The command line. Doc comments are the `--help` text. Subcommand arguments are typed by
//! clap's value parsers (a bad value exits 2 naming the option); the options shared by several
//! commands are the groups of `cli::options`, each flattened into the commands that use it.

use std::net::SocketAddr;

use chrono::NaiveDate;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::SecretString;

use crate::commands::schema::SchemaFormat;
use crate::domain::{parse_day, AccountSid, Resource};
use crate::scheduler::plan::Shard;

mod leading;
mod options;

use options::secret;
pub use options::{
    ApiOptions, ConnectAppOptions, DatabaseOptions, GlobalArgs, JobsOptions, LimitOptions,
    LogOptions, MetricsOptions, Number, OutputOptions, Settings,
};

/// Export the call logs and usage records of every Twilio account connected to your app
/// (Twilio Connect) to partitioned Parquet.
#[derive(Parser, Debug)]
#[command(
    name = "twilio-export",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Each command takes the options it uses: twilio-export COMMAND --help"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments like [`Parser::try_parse`], after moving options given
    /// before the command to after it ([`leading::hoist`]), and notes in
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
        command.build();
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let hoisted = leading::hoist(args, &command);
        let matches = command.try_get_matches_from_mut(hoisted.args)?;
        let mut cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        // The token is an option of the (innermost) subcommand that uses it.
        let mut innermost = &matches;
        while let Some((_, sub)) = innermost.subcommand() {
            innermost = sub;
        }
        cli.global.ignored_leading = hoisted.ignored;
        cli.global.auth_token_in_argv = innermost.try_contains_id("auth_token").unwrap_or(false)
            && innermost.value_source("auth_token") == Some(ValueSource::CommandLine);
        Ok(cli)
    }
}

/// The option groups of [`Settings`] a command takes; the others stay unset (the file or the
/// defaults fill them).
#[derive(Default)]
struct Given<'a> {
    database: Option<&'a DatabaseOptions>,
    output: Option<&'a OutputOptions>,
    api: Option<&'a ApiOptions>,
    connect_app: Option<&'a ConnectAppOptions>,
    jobs: Option<&'a JobsOptions>,
    limits: Option<&'a LimitOptions>,
    metrics: Option<&'a MetricsOptions>,
}

impl<'a> Given<'a> {
    fn export(e: &'a ExportOptions) -> Self {
        Given {
            database: Some(&e.database),
            output: Some(&e.output),
            api: Some(&e.api),
            limits: Some(&e.limits),
            ..Given::default()
        }
    }

    fn settings(self) -> Settings {
        Settings {
            database: self.database.cloned().unwrap_or_default(),
            output: self.output.cloned().unwrap_or_default(),
            api: self.api.cloned().unwrap_or_default(),
            connect_app: self.connect_app.cloned().unwrap_or_default(),
            jobs: self.jobs.cloned().unwrap_or_default(),
            limits: self.limits.cloned().unwrap_or_default(),
            metrics: self.metrics.cloned().unwrap_or_default(),
            log: Default::default(),
        }
    }
}

impl Command {
    /// The options this command was given on the command line or in the environment.
    pub fn settings(&self) -> Settings {
        let given = match self {
            Command::Serve(a) => Given {
                database: Some(&a.database),
                api: Some(&a.api),
                connect_app: Some(&a.connect_app),
                limits: Some(&a.limits),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::Add { api, .. })
            | Command::Accounts(AccountsCommand::Verify { api, .. }) => Given {
                database: Some(&api.database),
                api: Some(&api.api),
                limits: Some(&api.limits),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::List(a)) => Given {
                database: Some(&a.database),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::Remove { database, .. }) => Given {
                database: Some(database),
                ..Given::default()
            },
            Command::Run(a) => Given {
                jobs: Some(&a.jobs_dir),
                metrics: Some(&a.metrics),
                ..Given::export(&a.export)
            },
            Command::Schedule(a) => Given {
                jobs: Some(&a.jobs_dir),
                ..Given::export(&a.export)
            },
            Command::Backfill(a) => Given {
                metrics: Some(&a.metrics),
                ..Given::export(&a.export)
            },
            Command::Status(a) => Given {
                database: Some(&a.database),
                jobs: Some(&a.jobs_dir),
                ..Given::default()
            },
            Command::Schema(a) => Given {
                output: Some(&a.output),
                ..Given::default()
            },
            Command::Demo(a) => Given {
                output: Some(&a.output),
                limits: Some(&a.limits),
                metrics: Some(&a.metrics),
                ..Given::default()
            },
            Command::Sim(_) => Given::default(),
        };
        given.settings()
    }
}

/// What every export needs: the registry, the output, the API and its limits.
#[derive(clap::Args, Debug)]
pub struct ExportOptions {
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub output: OutputOptions,
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
}

/// What commands that ask the API about accounts need.
#[derive(clap::Args, Debug)]
pub struct AccountApiOptions {
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
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
    Schedule(ScheduleArgs),
    /// Export an inclusive range of UTC days; an account another process is exporting is
    /// skipped and named, and the command exits 1
    Backfill(BackfillArgs),
    /// Show accounts, last runs, partitions and failures
    Status(StatusArgs),
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
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(flatten)]
    pub connect_app: ConnectAppOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
}

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// Register a connected account (verified against the API unless --no-verify)
    Add {
        /// Account sids (AC…)
        #[arg(required = true, value_name = "AC…", value_parser = account_sid)]
        sids: Vec<AccountSid>,
        /// Register without asking the API
        #[arg(long)]
        no_verify: bool,
        #[command(flatten)]
        api: AccountApiOptions,
    },
    /// List the registered accounts
    List(ListArgs),
    /// Forget accounts (their exported files stay)
    Remove {
        #[arg(required = true, value_name = "AC…", value_parser = account_sid)]
        sids: Vec<AccountSid>,
        #[command(flatten)]
        database: DatabaseOptions,
    },
    /// Re-check accounts against the API and record Twilio's status of each (all when none
    /// are given)
    Verify {
        #[arg(value_name = "AC…", value_parser = account_sid)]
        sids: Vec<AccountSid>,
        #[command(flatten)]
        api: AccountApiOptions,
    },
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub flag: JsonFlag,
    #[command(flatten)]
    pub database: DatabaseOptions,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub flag: JsonFlag,
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
}

#[derive(clap::Args, Debug)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
    #[command(flatten)]
    pub export: ExportOptions,
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
    #[arg(long, value_name = "I/N", value_parser = shard)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
    #[command(flatten)]
    pub export: ExportOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
}

#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    /// calls or usage-records
    #[arg(long, value_parser = resource)]
    pub resource: Resource,
    /// First UTC day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = day)]
    pub from: NaiveDate,
    /// Last UTC day, inclusive (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = day)]
    pub to: NaiveDate,
    /// Only these accounts (repeatable); default: every active account
    #[arg(long = "account", value_name = "AC…", value_parser = account_sid)]
    pub accounts: Vec<AccountSid>,
    /// Windows exported at the same time, 1-256 [default: max-in-flight × accounts, at most 64]
    #[arg(long, value_name = "N", value_parser = count(1, 256))]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub export: ExportOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
}

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// calls or usage-records (default: both)
    #[arg(long, value_parser = resource)]
    pub resource: Option<Resource>,
    /// json (the schemas/ contract), arrow, or the DDL that lets a warehouse read the export:
    /// duckdb, bigquery, snowflake, spark (in place, hive-partitioned) or postgres (a table to
    /// load into; sql is the same)
    #[arg(long, default_value = "json")]
    pub format: SchemaFormat,
    /// Where the DDL finds the export's root: s3://bucket/prefix, gs://…, a directory, or for
    /// snowflake a stage (@stage/prefix) [default: --output]
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    #[command(flatten)]
    pub output: OutputOptions,
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
    /// Subaccounts per account, 0-100; the first is the Connect subaccount our app is granted (get-all)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = count(0, 100))]
    pub subaccounts: usize,
    /// The Authorize URL the consent page (/authorize/{CN…}) redirects to
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
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
}

// Clap's parsers for typed arguments. Clap's message already quotes the value and names the
// option ("invalid value 'AC1' for '--account <AC…>': …"), so these say only what was expected.

/// An account sid, around which spaces are forgiven.
fn account_sid(text: &str) -> Result<AccountSid, String> {
    AccountSid::parse(text.trim()).map_err(|_| {
        format!(
            "not a valid account sid: expected {} followed by 32 hex digits",
            AccountSid::PREFIX
        )
    })
}

/// A UTC day.
fn day(text: &str) -> Result<NaiveDate, &'static str> {
    parse_day(text).map_err(|_| "not a date: expected YYYY-MM-DD")
}

fn resource(text: &str) -> Result<Resource, &'static str> {
    text.parse()
        .map_err(|_| "unknown resource: expected calls or usage-records")
}

fn shard(text: &str) -> Result<Shard, &'static str> {
    Shard::parse(text).map_err(|_| "not a shard: expected I/N with 0 <= I < N, e.g. 0/4")
}

/// A count from `min` to `max` (clap's message on a bad value gives the range).
fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The long options a command's `--help` lists, under each heading.
    fn help(path: &[&str]) -> String {
        let mut command = Cli::command();
        command.build();
        let mut sub = &mut command;
        for name in path {
            sub = sub.find_subcommand_mut(name).expect(name);
        }
        sub.render_long_help().to_string()
    }

    const LIMITS: [&str; 4] = [
        "--rate-limit",
        "--max-in-flight",
        "--global-rate-limit",
        "--retry-budget",
    ];

    const EXPORTER: [&str; 5] = [
        "--database-url",
        "--output",
        "--api-base",
        "--auth-token",
        "--auth-token-file",
    ];
    const LIMITS_USED_BY: [&str; 6] = ["backfill", "run", "schedule", "serve", "add", "demo"];

    /// `path --help` lists `shown` (and the global options, last), not `hidden`, and the
    /// request limits only where the command uses them.
    fn assert_help_lists(path: &[&str], shown: &[&str], hidden: &[&str]) {
        let text = help(path);
        let listed =
            |flag: &str| text.contains(&format!("{flag} <")) || text.contains(&format!("{flag}\n"));
        for flag in shown.iter().chain(["--config", "--log-format"].iter()) {
            assert!(listed(flag), "{path:?} --help lacks {flag}: {text}");
        }
        for flag in hidden {
            assert!(!listed(flag), "{path:?} --help lists {flag}: {text}");
        }
        let uses_limits = LIMITS_USED_BY.contains(path.last().unwrap());
        for flag in LIMITS {
            assert_eq!(
                listed(flag),
                uses_limits,
                "{path:?} --help and {flag}: {text}"
            );
        }
        // Global options come last, under their own heading.
        let global = text
            .find("Global options:")
            .expect("a Global options heading");
        assert!(text.find("--config <").unwrap() > global, "{text}");
    }

    #[test]
    fn exporting_commands_list_the_options_they_use_and_no_others() {
        let with_jobs = [&EXPORTER[..], &["--jobs-dir"]].concat();
        assert_help_lists(
            &["backfill"],
            &EXPORTER,
            &["--jobs-dir", "--connect-app-sid"],
        );
        assert_help_lists(&["run"], &with_jobs, &["--connect-app-sid"]);
        assert_help_lists(&["schedule"], &with_jobs, &["--connect-app-sid"]);
        assert_help_lists(
            &["demo"],
            &["--output", "--days"],
            &["--database-url", "--api-base", "--auth-token"],
        );
        assert_help_lists(
            &["serve"],
            &[
                "--database-url",
                "--api-base",
                "--auth-token",
                "--connect-app-sid",
            ],
            &["--output", "--jobs-dir"],
        );
        assert_help_lists(
            &["accounts", "add"],
            &["--database-url", "--api-base", "--auth-token"],
            &["--output", "--jobs-dir"],
        );
    }

    #[test]
    fn other_commands_list_the_options_they_use_and_no_others() {
        let registry_only = ["--output", "--api-base", "--auth-token"];
        assert_help_lists(
            &["schema"],
            &["--output", "--format"],
            &["--database-url", "--api-base", "--auth-token", "--jobs-dir"],
        );
        assert_help_lists(
            &["sim"],
            &["--seed", "--limit-in-flight", "--limit-per-second"],
            &[&EXPORTER[..4], &["--jobs-dir", "--connect-app-sid"]].concat(),
        );
        assert_help_lists(
            &["sim", "deauthorize"],
            &["--url", "--sim-auth-token"],
            &["--database-url", "--output", "--auth-token"],
        );
        assert_help_lists(
            &["status"],
            &["--database-url", "--jobs-dir"],
            &registry_only,
        );
        assert_help_lists(&["accounts", "list"], &["--database-url"], &registry_only);
        assert_help_lists(&["accounts", "remove"], &["--database-url"], &registry_only);
    }

    #[test]
    fn the_simulator_lists_its_own_options_first_and_faults_apart() {
        let text = help(&["sim"]);
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s}: {text}"));
        assert!(at("--seed <") < at("Faults:"), "{text}");
        assert!(at("--subaccounts <") < at("Faults:"), "{text}");
        assert!(at("Faults:") < at("--limit-in-flight <"), "{text}");
        assert!(at("--limit-in-flight <") < at("Global options:"), "{text}");
    }

    /// The file's keys are the long flags: one definition drives both.
    #[test]
    fn every_file_key_is_a_flag_with_an_env_variable_and_every_shared_flag_a_key() {
        let mut command = Cli::command();
        command.build();
        let mut flags = std::collections::BTreeMap::new();
        let mut stack = vec![&command];
        while let Some(c) = stack.pop() {
            for arg in c.get_arguments() {
                if let (Some(long), Some(heading)) = (arg.get_long(), arg.get_help_heading()) {
                    flags.insert(
                        long.replace('-', "_"),
                        (heading.to_owned(), arg.get_env().is_some()),
                    );
                }
            }
            stack.extend(c.get_subcommands());
        }
        let keys = Settings::keys();
        for key in &keys {
            let (_, env) = flags
                .get(*key)
                .unwrap_or_else(|| panic!("no flag for {key}"));
            assert!(env, "{key} has no env variable");
        }
        for (flag, (heading, _)) in &flags {
            if heading != "Faults" && flag != "config" {
                assert!(
                    keys.contains(&flag.as_str()),
                    "--{flag} ({heading}) is not a file key"
                );
            }
        }
    }

    /// Typed arguments are refused by clap (exit 2), naming the option and what it expects,
    /// and quoting the value once.
    #[test]
    fn bad_typed_arguments_name_the_option() {
        let backfill = |resource: &str, to: &str, extra: &[&str]| -> Vec<String> {
            let args = [
                "x",
                "backfill",
                "--resource",
                resource,
                "--from",
                "2026-03-01",
            ];
            [&args[..], &["--to", to], extra]
                .concat()
                .into_iter()
                .map(String::from)
                .collect()
        };
        let words = |args: &[&str]| -> Vec<String> { args.iter().map(|s| s.to_string()).collect() };
        let sid = "CA3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
        let cases: Vec<(Vec<String>, &str, &str)> = vec![
            (
                backfill("calls", "2026-02-30", &[]),
                "2026-02-30",
                "'--to <DATE>': not a date",
            ),
            (
                backfill("messages", "2026-03-01", &[]),
                "messages",
                "'--resource <RESOURCE>': unknown resource",
            ),
            (
                backfill("calls", "2026-03-01", &["--account", "AC1"]),
                "AC1",
                "'--account <AC…>': not a valid account sid",
            ),
            (
                words(&["x", "schema", "--format", "xml"]),
                "xml",
                "'--format <FORMAT>': expected json, arrow",
            ),
            (
                words(&["x", "run", "--shard", "4/4"]),
                "4/4",
                "'--shard <I/N>': not a shard",
            ),
            (
                words(&["x", "accounts", "remove", sid]),
                sid,
                "not a valid account sid",
            ),
        ];
        for (args, value, message) in cases {
            let err = Cli::parse_from_args(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let text = err.to_string();
            assert!(text.contains(message), "{args:?}: {text}");
            assert_eq!(text.matches(value).count(), 1, "{text}");
        }
        let padded = " AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80 ";
        let cli =
            Cli::parse_from_args(backfill("calls", "2026-03-01", &["--account", padded])).unwrap();
        let Command::Backfill(args) = cli.command else {
            panic!("not backfill")
        };
        assert_eq!(args.resource, Resource::Calls);
        assert_eq!(args.accounts[0].as_str(), padded.trim());
    }

    #[test]
    fn the_token_on_the_command_line_is_noticed_in_the_subcommand() {
        let cli = Cli::parse_from_args(["x", "accounts", "verify", "--auth-token", "t"]).unwrap();
        assert!(cli.global.auth_token_in_argv);
        let cli = Cli::parse_from_args(["x", "--config", "c.toml", "status"]).unwrap();
        assert!(!cli.global.auth_token_in_argv);
    }
}
