//! `sim`: the built-in Twilio API simulator as a standalone server.

use anyhow::Context;

use super::Exit;
use crate::cli::SimArgs;
use crate::shutdown;
use crate::sim::{self, Faults, SimConfig, Simulator};

pub async fn run(args: SimArgs) -> anyhow::Result<Exit> {
    let mut cfg = SimConfig {
        seed: args.seed,
        accounts: args.accounts,
        days: args.days,
        calls_per_day: args.calls_per_day,
        ..SimConfig::default()
    };
    let f = &args.faults;
    for (name, p) in [
        ("--retry-after-share", f.retry_after_share),
        ("--server-errors", f.server_errors),
        ("--dropped-connections", f.dropped_connections),
        ("--truncated-bodies", f.truncated_bodies),
    ] {
        if !(0.0..=1.0).contains(&p) {
            anyhow::bail!("{name}: {p} is not between 0 and 1");
        }
    }
    cfg.faults = Faults {
        latency: std::time::Duration::from_millis(f.latency_ms),
        max_in_flight: f.limit_in_flight,
        max_per_second: f.limit_per_second,
        retry_after_share: f.retry_after_share,
        server_error: f.server_errors,
        dropped_connection: f.dropped_connections,
        truncated_body: f.truncated_bodies,
        revoke_after: f.revoke_after,
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
