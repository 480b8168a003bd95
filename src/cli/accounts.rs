//! `accounts`: its subcommands and their arguments.

use clap::Subcommand;

use super::parse::account_sid;
use super::{ApiOptions, DatabaseOptions, LimitOptions, OutputOptions};
use crate::domain::AccountSid;

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
    /// Forget accounts (their exported files and partition records stay: `accounts purge`
    /// deletes them)
    Remove {
        #[arg(required = true, value_name = "AC…", value_parser = account_sid)]
        sids: Vec<AccountSid>,
        #[command(flatten)]
        database: DatabaseOptions,
    },
    /// Delete every exported partition of accounts (from the output, local or object store)
    /// and their checkpoints, partitions and failed windows from the registry; each account
    /// stays, marked purged, and is no longer exported until it is authorized again (which
    /// starts it afresh). Asks for confirmation at a terminal; elsewhere needs --yes. An
    /// account another process is exporting is not purged (exit 1)
    Purge {
        /// Account sids (AC…)
        #[arg(required = true, value_name = "AC…", value_parser = account_sid)]
        sids: Vec<AccountSid>,
        /// Do not ask: purge (needed when standard input is not a terminal)
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        database: DatabaseOptions,
        #[command(flatten)]
        output: OutputOptions,
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
pub struct JsonFlag {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}
