//! The `twilio-export` binary: parse the command line, start logging, run the command, and
//! turn its outcome into an exit code (0 done, 1 partly failed, 2 bad usage or configuration).

use std::process::ExitCode;

use clap::Parser;
use twilio_export::cli::Cli;
use twilio_export::commands::{self, Exit};
use twilio_export::{config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    telemetry::init(config::peek_log_format(&cli.global));
    match commands::dispatch(cli).await {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
