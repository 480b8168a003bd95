//! `sim`: the built-in Twilio API simulator as a standalone server.

use anyhow::Context;

use super::Exit;
use crate::cli::SimArgs;
use crate::shutdown;
use crate::sim::{self, SimConfig, Simulator};

pub async fn run(args: SimArgs) -> anyhow::Result<Exit> {
    let mut cfg = SimConfig {
        seed: args.seed,
        accounts: args.accounts,
        days: args.days,
        calls_per_day: args.calls_per_day,
        ..SimConfig::default()
    };
    if let Some(token) = args.sim_auth_token {
        cfg.auth_token = token;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let simulator = Simulator::new(cfg);
    println!("Twilio API simulator on http://{addr}");
    println!("  accounts:    {}", simulator.account_sids().join(" "));
    println!("  connect app: {}", simulator.config().connect_app_sid);
    println!(
        "  days:        {} ending {} (UTC)",
        simulator.config().days,
        simulator.config().today
    );
    println!("  auth token:  set with --sim-auth-token or TWILIO_SIM_AUTH_TOKEN (default sim-auth-token)");
    println!(
        "Try: TWILIO_API_BASE=http://{addr} TWILIO_AUTH_TOKEN=… twilio-export accounts add {}",
        simulator
            .account_sids()
            .first()
            .map(String::as_str)
            .unwrap_or("AC…")
    );
    let cancel = shutdown::on_signal();
    sim::serve(listener, simulator, cancel).await?;
    Ok(Exit::Success)
}
