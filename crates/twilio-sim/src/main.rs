//! `twilio-sim`: the simulator as a standalone server, without the exporter.
//!
//! Only the data options are here; `twilio-export sim` has the same ones plus faults, hostile
//! modes and the deauthorize callback sender.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use twilio_sim::{SimConfig, Simulator};

/// A deterministic simulator of the Twilio REST API (Accounts, Calls, Usage Records, Connect).
#[derive(Parser, Debug)]
#[command(name = "twilio-sim", version)]
struct Args {
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seeds every generated value; equal options give identical data
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Connected accounts to generate, 1-1000
    #[arg(long, default_value_t = 3, value_parser = count(1, 1000))]
    accounts: usize,
    /// Days of history ending today (UTC), 1-3650
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Average calls per account per day, 0-1000000
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    calls_per_day: u32,
    /// Subaccounts per account, 0-100, the first being the Connect subaccount (0: flat)
    #[arg(long, default_value_t = 0, value_parser = count(0, 100))]
    subaccounts: usize,
    /// Where the consent page sends the browser (a receiver's Authorize URL)
    #[arg(long, value_name = "URL")]
    authorize_url: Option<String>,
}

/// A count from `min` to `max` (clap's message on a bad value gives the range).
fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=max)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = SimConfig {
        accounts: args.accounts,
        days: args.days,
        calls_per_day: args.calls_per_day,
        subaccounts: args.subaccounts,
        authorize_url: args.authorize_url,
        ..SimConfig::with_seed(args.seed)
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let simulator = Simulator::new(cfg);
    if let Ok(addr) = listener.local_addr() {
        println!("Twilio API simulator on http://{addr}");
    }
    println!("  accounts:    {}", simulator.account_sids().join(" "));
    println!("  connect app: {}", simulator.config().connect_app_sid);
    println!("  auth token:  {}", SimConfig::default().auth_token);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        // Without a handler, Ctrl-C still ends the process; with one, requests finish first.
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    match twilio_sim::serve(listener, simulator, cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
