//! The command line. Doc comments are the `--help` text. Subcommand arguments are typed by
//! clap's value parsers (a bad value exits 2 naming the option); the options shared by several
//! commands are the groups of `cli::options`, each flattened into the commands that use it.

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod accounts;
mod exports;
mod given;
mod inspect;
mod leading;
mod options;
mod parse;
mod serve;
mod sim;
#[cfg(test)]
mod tests;

pub use accounts::{AccountApiOptions, AccountsCommand, JsonFlag, ListArgs};
pub use exports::{BackfillArgs, ExportOptions, RunArgs, ScheduleArgs};
pub use inspect::{SchemaArgs, StatusArgs};
pub use options::{
    ApiOptions, ConnectAppOptions, DatabaseOptions, GlobalArgs, JobsOptions, LimitOptions,
    LogOptions, MetricsOptions, Number, OutputOptions, Settings,
};
pub use serve::ServeArgs;
pub use sim::{DemoArgs, SimArgs, SimCommand, SimDeauthorizeArgs, SimFaultArgs};

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
