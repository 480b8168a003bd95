//! `accounts add|list|remove|verify`: the registry of connected accounts.

use anyhow::Context;

use super::build::{client, open_registry};
use super::{report, Exit};
use crate::cli::AccountsCommand;
use crate::config::Config;
use crate::domain::AccountSid;
use crate::fetch::{FetchError, TwilioClient};
use crate::registry::{Account, NewAccount, Registry, TwilioStatus};

pub async fn run(config: &Config, cmd: AccountsCommand) -> anyhow::Result<Exit> {
    match cmd {
        AccountsCommand::Add {
            sids, no_verify, ..
        } => add(config, &sids, no_verify).await,
        AccountsCommand::List(args) => list(config, args.flag.json).await,
        AccountsCommand::Remove { sids, .. } => remove(config, &sids).await,
        AccountsCommand::Verify { sids, .. } => verify(config, &sids).await,
    }
}

async fn add(config: &Config, sids: &[AccountSid], no_verify: bool) -> anyhow::Result<Exit> {
    // Check every input before touching anything.
    let client = if no_verify {
        None
    } else {
        Some(client(config)?)
    };
    let registry = open_registry(config).await?;
    let mut exit = Exit::Success;
    for sid in sids {
        let new = match &client {
            None => NewAccount::unverified(sid.clone()),
            Some(client) => match client.fetch_account(sid, sid).await {
                Ok(info) => NewAccount::confirmed(sid.clone(), sid.clone(), info),
                Err(e) => {
                    eprintln!("{sid}: not added: {}", refusal(&e));
                    exit = Exit::Failed;
                    continue;
                }
            },
        };
        registry.upsert_account(&new).await?;
        let how = match &new.twilio_status {
            _ if no_verify => " (not verified)".to_owned(),
            Some(s) if !s.exported() => {
                format!(" (verified), but Twilio reports it {s}: exports skip it")
            }
            _ => " (verified)".to_owned(),
        };
        println!("{sid}: added{how}");
    }
    Ok(exit)
}

/// Why the API did not confirm an account, in words a user can act on.
fn refusal(e: &FetchError) -> String {
    match e {
        FetchError::Unauthorized { .. } => format!(
            "Twilio refused our credentials for it (is the Connect App authorized, and is the auth token right?): {e}"
        ),
        FetchError::NotFound { .. } => format!("Twilio does not know this account: {e}"),
        _ => format!("could not reach the Twilio API: {e}"),
    }
}

async fn list(config: &Config, json: bool) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let accounts = registry.accounts().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&accounts)?);
    } else {
        report::accounts(&accounts);
    }
    Ok(Exit::Success)
}

async fn remove(config: &Config, sids: &[AccountSid]) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let mut exit = Exit::Success;
    for sid in sids {
        if registry.remove_account(sid).await? {
            println!("{sid}: removed (its exported files stay)");
        } else {
            eprintln!("{sid}: not registered");
            exit = Exit::Failed;
        }
    }
    Ok(exit)
}

async fn verify(config: &Config, sids: &[AccountSid]) -> anyhow::Result<Exit> {
    let client = client(config)?;
    let registry = open_registry(config).await?;
    let accounts: Vec<Account> = if sids.is_empty() {
        registry.accounts().await?
    } else {
        let mut out = Vec::new();
        for sid in sids {
            out.push(
                registry
                    .account(sid)
                    .await?
                    .with_context(|| format!("{sid} is not registered"))?,
            );
        }
        out
    };
    let mut exit = Exit::Success;
    for a in &accounts {
        match verify_one(&client, &registry, a).await? {
            Verdict::Active(Some(s)) if !s.exported() => {
                println!("{}: {s} on Twilio (exports skip it)", a.sid)
            }
            Verdict::Active(_) => println!("{}: active", a.sid),
            Verdict::Deauthorized(why) => println!("{}: deauthorized ({why})", a.sid),
            Verdict::Unknown(why) => {
                eprintln!("{}: could not check: {why}", a.sid);
                exit = Exit::Failed;
            }
        }
    }
    Ok(exit)
}

enum Verdict {
    /// The grant works; Twilio's status of the account, if it said.
    Active(Option<TwilioStatus>),
    Deauthorized(String),
    Unknown(String),
}

/// 200 → active (re-activates, Twilio's status recorded); 401/403 → deauthorized; anything
/// else → unknown, unchanged.
async fn verify_one(
    client: &TwilioClient,
    registry: &Registry,
    a: &Account,
) -> anyhow::Result<Verdict> {
    Ok(
        match client.fetch_account(&a.credential_sid, &a.sid).await {
            Ok(info) => {
                let new = NewAccount::confirmed(a.sid.clone(), a.credential_sid.clone(), info);
                registry.upsert_account(&new).await?;
                Verdict::Active(new.twilio_status)
            }
            Err(e @ FetchError::Unauthorized { .. }) => {
                let why = e.to_string();
                registry.deauthorize(&a.sid, &why).await?;
                Verdict::Deauthorized(why)
            }
            Err(e) => Verdict::Unknown(e.to_string()),
        },
    )
}
