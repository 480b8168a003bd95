//! One file per subcommand. The only place that uses `anyhow`: commands build the pipeline's
//! parts from the validated [`Config`] and turn outcomes into exit codes.

/// `println!` for commands: std's, except that a closed stdout ends the output quietly
/// instead of panicking ([`stdout`]). Defined before the command modules, so it shadows
/// std's in all of them.
macro_rules! println {
    () => {
        $crate::commands::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::commands::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for commands; see `println!` above.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::commands::stdout::write(format_args!($($arg)*))
    };
}

pub mod stdout;

pub mod accounts;
pub mod backfill;
pub mod demo;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod status;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::export::Exporter;
use crate::fetch::{Quotas, TwilioClient};
use crate::registry::Registry;
use crate::store::Store;

/// How a command ended when it did not fail outright (PRODUCT.md "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything asked for was done.
    Success,
    /// 1: some windows or accounts failed; the rest were done.
    Failed,
}

/// Runs the command. An `Err` means nothing was done: bad usage or configuration (exit 2).
pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let config = Config::load(&cli.global)?;
    match cli.command {
        Command::Accounts(cmd) => accounts::run(&config, cmd).await,
        Command::Backfill(args) => backfill::run(&config, args).await,
        Command::Demo(args) => demo::run(&config, args).await,
        Command::Schema(args) => schema::run(&config, args),
        Command::Sim(args) => sim::run(args).await,
        Command::Status(args) => status::run(&config, args).await,
        Command::Serve(args) => serve::run(&config, args).await,
        Command::Run(args) => run::run(&config, args).await,
        Command::Schedule => schedule::run(&config).await,
    }
}

/// An error as one line for people: the message and then each cause not already shown (a
/// library error whose message includes its source would otherwise show it twice), with
/// control characters escaped (messages may quote what a server sent).
pub fn report(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    crate::telemetry::escape_controls(&text).into_owned()
}

pub(crate) async fn open_registry(config: &Config) -> anyhow::Result<Registry> {
    Ok(Registry::connect(config.database_url.expose()).await?)
}

pub(crate) fn client(config: &Config) -> anyhow::Result<TwilioClient> {
    let token = config.auth_token()?.clone();
    Ok(
        TwilioClient::new(config.api_base.clone(), token, Quotas::new(config.limits))
            .context("cannot build the HTTP client")?
            .with_retry_budget(config.limits.retry_budget),
    )
}

/// Everything an export needs, checked before any work starts.
pub(crate) async fn exporter(
    config: &Config,
    cancel: CancellationToken,
) -> anyhow::Result<Exporter> {
    let client = client(config)?;
    let store = Store::open(&config.output)?;
    store.check().await?;
    let registry = open_registry(config).await?;
    Ok(Exporter {
        client,
        registry,
        store,
        cancel,
    })
}
