//! `accounts`: its subcommands and their arguments.

use clap::Subcommand;

use super::parse::account_sid;
use super::{ApiOptions, DatabaseOptions, LimitOptions};
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
pub struct JsonFlag {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}
