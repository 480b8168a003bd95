//! `accounts add|list|remove|verify|purge`: the registry of connected accounts, and the
//! purge of one's exported data.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};

use super::build::{client, open_registry};
use super::{report, Exit};
use crate::cli::AccountsCommand;
use crate::config::Config;
use crate::domain::AccountSid;
use crate::erase::{EraseError, Eraser};
use crate::fetch::{FetchError, TwilioClient};
use crate::registry::{
    Account, AccountStatus, DeletionReason, LeaseHolder, NewAccount, Registry, TwilioStatus,
};
use crate::store::Store;
use crate::telemetry::{self, Level};

pub async fn run(config: &Config, cmd: AccountsCommand) -> anyhow::Result<Exit> {
    match cmd {
        AccountsCommand::Add {
            sids, no_verify, ..
        } => add(config, &sids, no_verify).await,
        AccountsCommand::List(args) => list(config, args.flag.json).await,
        AccountsCommand::Remove { sids, .. } => remove(config, &sids).await,
        AccountsCommand::Verify { sids, .. } => verify(config, &sids).await,
        AccountsCommand::Purge { sids, yes, .. } => purge(config, &sids, yes).await,
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
                    telemetry::say(
                        Level::ERROR,
                        format_args!("{sid}: not added: {}", refusal(&e)),
                    );
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
        FetchError::Unauthorized { status: 401, .. } => {
            format!("{e} (is the Connect App authorized, and is the auth token right?)")
        }
        FetchError::Unauthorized { .. } => {
            format!("{e} (does the Connect App have the permission to read all account data?)")
        }
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
            println!("{sid}: removed from the registry; its exported files and partition records stay (accounts purge {sid} deletes them)");
        } else {
            telemetry::say(Level::ERROR, format_args!("{sid}: not registered"));
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
        // A purge is undone only by a new authorization, never by a re-check.
        if a.status == AccountStatus::Purged {
            println!(
                "{}: purged, not checked (authorize it again, or accounts add it, to export it again)",
                a.sid
            );
            continue;
        }
        match verify_one(&client, &registry, a).await? {
            Verdict::Active(Some(s)) if !s.exported() => {
                println!("{}: {s} on Twilio (exports skip it)", a.sid)
            }
            Verdict::Active(_) => println!("{}: active", a.sid),
            Verdict::Deauthorized(why) => println!("{}: deauthorized ({why})", a.sid),
            Verdict::Unknown(why) => {
                telemetry::say(
                    Level::ERROR,
                    format_args!("{}: could not check: {why}", a.sid),
                );
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

/// Deletes every partition of each account from the output, and its registry rows (the
/// account stays, as purged). Asks first at a terminal unless `yes`; refuses without one.
/// A sid neither registered nor with partitions recorded is refused (a typo, most likely);
/// one removed with `accounts remove` whose partitions stay is purged like any other.
async fn purge(config: &Config, sids: &[AccountSid], yes: bool) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let mut summaries = Vec::new();
    let partitions = registry.partition_summary().await?;
    for sid in sids {
        let recorded: Vec<_> = partitions
            .iter()
            .filter(|p| &p.account_sid == sid)
            .collect();
        if recorded.is_empty() && registry.account(sid).await?.is_none() {
            bail!("{sid} is not registered and the registry records no partition of it; nothing was purged");
        }
        let (days, rows) = recorded
            .iter()
            .fold((0, 0), |(d, r), p| (d + p.partitions, r + p.rows));
        summaries.push(format!("{sid}: {days} partitions recorded ({rows} rows)"));
    }
    if !yes {
        confirm(config, &summaries)?;
    }
    // A local output is not created (nor its staging directory): a purge only deletes.
    let store = Store::open(&config.output)?;
    if matches!(store, Store::Remote { .. }) {
        store.check().await?;
    }
    let holder = LeaseHolder::new();
    let eraser = Eraser::new(&registry, &store, &holder);
    // A purge killed half way may have deleted the account's files already: the check against
    // a wrong output would blame the output for it. Its completion below needs no check.
    let half_purged: Vec<AccountSid> = registry
        .pending_deletions()
        .await?
        .into_iter()
        .filter(|d| d.reason.purges())
        .map(|d| d.account_sid)
        .collect();
    for sid in sids.iter().filter(|sid| !half_purged.contains(sid)) {
        if let Err(e @ EraseError::NotInOutput { .. }) = eraser.check_output(sid).await {
            bail!("{e}");
        }
    }
    let pending = complete_pending(&eraser).await?;
    let purged = purge_each(&eraser, &registry, sids, config).await?;
    Ok(if pending == Exit::Success {
        purged
    } else {
        pending
    })
}

/// Completes the deletions other processes left pending, saying what became of each.
async fn complete_pending(eraser: &Eraser<'_>) -> anyhow::Result<Exit> {
    let mut exit = Exit::Success;
    for done in eraser.complete_pending().await? {
        match done {
            Ok(e) => {
                let d = &e.deletion;
                println!(
                    "{}: completed a pending {} deletion (#{}): {} partitions, {} bytes",
                    d.account_sid, d.reason, d.id, d.partitions, d.bytes
                );
            }
            Err(e) => {
                telemetry::say(
                    Level::ERROR,
                    format_args!(
                        "a pending deletion could not be completed (it stays pending; see status): {e}"
                    ),
                );
                exit = Exit::Failed;
            }
        }
    }
    Ok(exit)
}

/// Purges each of `sids`, saying what became of it.
async fn purge_each(
    eraser: &Eraser<'_>,
    registry: &Registry,
    sids: &[AccountSid],
    config: &Config,
) -> anyhow::Result<Exit> {
    let mut exit = Exit::Success;
    for sid in sids {
        // An account removed with `accounts remove` has no row to keep as purged.
        let kept = match registry.account(sid).await? {
            Some(_) => "; kept as purged (authorizing it again starts it afresh)",
            None => " (it is not in the registry)",
        };
        match eraser.purge(sid, DeletionReason::Purge).await {
            Ok(e) => println!(
                "{sid}: purged: {} partitions ({} bytes) deleted from {} and its registry rows removed{kept}",
                e.deletion.partitions, e.deletion.bytes, config.output
            ),
            Err(e @ (EraseError::Busy { .. } | EraseError::NotInOutput { .. })) => {
                telemetry::say(Level::ERROR, format_args!("{sid}: not purged: {e}"));
                exit = Exit::Failed;
            }
            Err(e) => {
                telemetry::say(Level::ERROR, format_args!("{sid}: purge not finished (the next run or purge completes it): {e}"));
                exit = Exit::Failed;
            }
        }
    }
    Ok(exit)
}

/// Asks on the terminal; without one (a script, a pipe) refuses: a purge cannot be undone.
fn confirm(config: &Config, summaries: &[String]) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("not purged: confirm with --yes (standard input is not a terminal to ask on)");
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "This deletes from {} and from the registry:",
        config.output
    )?;
    for s in summaries {
        writeln!(err, "  {s}")?;
    }
    write!(err, "It cannot be undone. Purge? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        bail!("not purged: not confirmed");
    }
    Ok(())
}
