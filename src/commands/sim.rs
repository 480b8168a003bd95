//! `sim`: the built-in Twilio API simulator as a standalone server, and `sim deauthorize`,
//! which sends our receiver a (signed or deliberately mis-signed) deauthorize callback.

use anyhow::Context;
use secrecy::ExposeSecret;

use super::Exit;
use crate::cli::{SimArgs, SimCommand, SimDeauthorizeArgs};
use crate::shutdown;
use twilio_sim::{self as sim, Faults, SimConfig, Simulator};

pub async fn run(args: SimArgs) -> anyhow::Result<Exit> {
    if let Some(SimCommand::Deauthorize(cb)) = args.command {
        let token = args.sim_auth_token.map(|t| t.expose_secret().to_owned());
        return deauthorize(args.seed, token, cb).await;
    }
    let mut cfg = SimConfig {
        seed: args.seed,
        accounts: args.accounts,
        days: args.days,
        calls_per_day: args.calls_per_day,
        subaccounts: args.subaccounts,
        authorize_url: args.authorize_url.clone(),
        cache_pages: args.cache_pages,
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
        hostile: f.hostile.as_deref().cloned(),
    };
    if let Some(token) = args.sim_auth_token {
        cfg.auth_token = token.expose_secret().to_owned();
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let simulator = Simulator::new(cfg);
    println!("Twilio API simulator on http://{addr}");
    println!("  accounts:    {}", simulator.account_sids().join(" "));
    println!("  connect app: {}", simulator.config().connect_app_sid);
    if args.authorize_url.is_some() {
        println!(
            "  consent:     http://{addr}/authorize/{} (set TWILIO_CONNECT_BASE=http://{addr})",
            simulator.config().connect_app_sid
        );
    }
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
    let cancel = shutdown::on_signal("Stop requested: the simulator stops");
    sim::serve(listener, simulator, cancel).await?;
    Ok(Exit::Success)
}

/// `sim deauthorize`: exit 0 when the receiver answered 2xx, 1 otherwise.
async fn deauthorize(
    seed: u64,
    token: Option<String>,
    args: SimDeauthorizeArgs,
) -> anyhow::Result<Exit> {
    let post = match args.method.to_ascii_lowercase().as_str() {
        "post" => true,
        "get" => false,
        other => anyhow::bail!("--method: {other:?} is neither get nor post"),
    };
    let signing = if args.unsigned {
        sim::Signing::Absent
    } else if args.bad_signature {
        sim::Signing::Wrong
    } else {
        sim::Signing::Valid
    };
    let cb = sim::DeauthorizeCallback {
        url: args.url,
        account_sid: args.account,
        connect_app_sid: args
            .app
            .unwrap_or_else(|| SimConfig::with_seed(seed).connect_app_sid),
        post,
        signing,
    };
    let token = token.unwrap_or_else(|| SimConfig::default().auth_token);
    if let Some(base) = &args.sim {
        sim::revoke_at(base, &cb.connect_app_sid, &cb.account_sid)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("revoked {} at {base}", cb.account_sid);
    }
    let status = sim::send_deauthorize(&cb, &token)
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "{} {} → HTTP {status}",
        if post { "POST" } else { "GET" },
        cb.url
    );
    Ok(if (200..300).contains(&status) {
        Exit::Success
    } else {
        Exit::Failed
    })
}
