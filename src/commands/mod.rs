//! One file per subcommand. The only place that uses `anyhow`: commands build the pipeline's
//! parts from the validated [`Config`] and turn outcomes into exit codes.
//!
//! Commands never use each other: what several share lives in [`build`] (the parts: registry,
//! client, exporter, scheduler, jobs, clock), `range` (a range of days exported under leases,
//! for `backfill` and `demo`) and [`report`] (what they print about their work). Which
//! accounts, days and windows an export covers is the planning layer's (`scheduler::plan`).

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

pub mod build;
mod metrics_file;
mod progress;
mod range;
pub mod report;

pub mod accounts;
pub mod backfill;
pub mod demo;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod status;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::export::Summary;

/// A failure after work was done: what was exported before it stays published and recorded,
/// so the command exits 1 (part of it failed), not 2 (nothing was done).
#[derive(Debug, thiserror::Error)]
#[error("{0} (what was exported before it stays published and recorded: status shows it)")]
pub struct PartlyDone(pub crate::registry::RegistryError);

/// How a command ended when it did not fail outright (README, "Exit codes and troubleshooting").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything asked for was done.
    Success,
    /// 1: some windows or accounts failed; the rest were done.
    Failed,
}

impl Exit {
    /// An export's exit: 1 if a window failed or it was interrupted.
    pub fn of(s: &Summary) -> Exit {
        if s.totals.windows_failed > 0 || s.interrupted {
            Exit::Failed
        } else {
            Exit::Success
        }
    }
}

/// Runs the command. An `Err` means nothing was done: bad usage or configuration (exit 2).
pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let config = Config::load(&cli.global, cli.command.settings())?;
    progress::interval_setting()?;
    match cli.command {
        Command::Accounts(cmd) => accounts::run(&config, cmd).await,
        Command::Backfill(args) => backfill::run(&config, args).await,
        Command::Demo(args) => demo::run(&config, args).await,
        Command::Schema(args) => schema::run(&config, args),
        Command::Sim(args) => sim::run(args).await,
        Command::Status(args) => status::run(&config, args.flag).await,
        Command::Serve(args) => serve::run(&config, args).await,
        Command::Run(args) => run::run(&config, args).await,
        Command::Schedule(_) => schedule::run(&config).await,
    }
}

#[cfg(test)]
mod tests {
    /// Commands share through `build`, `range` and `report`, never through each other.
    #[test]
    fn commands_do_not_use_each_other() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
        let commands = [
            "accounts", "backfill", "demo", "run", "schedule", "schema", "serve", "sim", "status",
        ];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for c in commands {
                for pattern in [format!("super::{c}"), format!("commands::{c}")] {
                    assert!(
                        !text.contains(&pattern),
                        "{} uses {pattern}",
                        path.display()
                    );
                }
            }
        }
    }
}
