//! `serve`: the Twilio Connect callback receiver (see `receiver`). Needs the auth token and
//! our Connect App sid; everything is checked before the port is opened.

use anyhow::Context;
use url::Url;

use super::build::{client, open_registry};
use super::Exit;
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::receiver::{self, ReceiverConfig, ReceiverLimits, ReceiverState};
use crate::shutdown;

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<Exit> {
    let token = config.auth_token()?.clone();
    let connect_app_sid = config
        .connect_app_sid
        .clone()
        .context("no Connect App: set TWILIO_CONNECT_APP_SID or --connect-app-sid (CN…)")?;
    let public_url = args
        .public_url
        .as_deref()
        .map(|u| http_url("public-url", u))
        .transpose()?;
    let connect_base = http_url("connect-base", &args.connect_base)?;
    let owner_account_sid = args
        .owner_account_sid
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            crate::domain::AccountSid::parse(s.trim())
                .context("owner-account-sid (TWILIO_ACCOUNT_SID)")
        })
        .transpose()?;
    if owner_account_sid.is_none() {
        tracing::warn!(
            "No --owner-account-sid (TWILIO_ACCOUNT_SID): your Auth Token is your own account's credential, so an authorization naming your account sid would be taken as a grant; set it to your account's sid (AC…)"
        );
    }

    let limits = ReceiverLimits::default();
    let cancel = shutdown::on_signal(format!(
        "Stop requested: no new connections; requests in progress get up to {} s to finish",
        limits.shutdown_timeout.as_secs()
    ));
    let client = client(config)?;
    let registry = open_registry(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("no local address")?;
    let public_url = match public_url {
        Some(u) => u,
        // The bound address, so that `--listen 127.0.0.1:0` works too.
        None => http_url("listen", &format!("http://{local}"))?,
    };
    let receiver_config = ReceiverConfig {
        public_url,
        connect_base,
        connect_app_sid,
        discover: args.discovers(),
        owner_account_sid,
        limits,
    };
    let state = ReceiverState::new(receiver_config, client, registry.clone(), token);
    if args.public_url.is_none() && args.listen.ip().is_unspecified() {
        tracing::warn!(
            "No --public-url: deauthorize signatures are checked against http://{}, which Twilio cannot be using",
            args.listen
        );
    }
    // The actual address (the port may have been 0), for people and for scripts.
    println!("Connect receiver on http://{local}");
    println!(
        "  Authorize URL:   {}",
        state.public_route("/connect/authorize")
    );
    println!(
        "  Deauthorize URL: {}",
        state.public_route("/connect/deauthorize")
    );
    tracing::info!(
        discover = state.config().discover,
        connect_app = %state.config().connect_app_sid,
        "Connect receiver started"
    );
    receiver::serve(listener, state, cancel).await;
    registry.close().await;
    Ok(Exit::Success)
}

/// An absolute http(s) URL, or an error naming the option.
/// An http(s) URL that the receiver's paths can be added to: no query or fragment, which the
/// paths would land after, and no user or password, which a public address has no use for.
fn http_url(option: &str, value: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .with_context(|| {
            format!(
                "{option}: {:?} is not an http(s) URL",
                crate::redact::url(value)
            )
        })?;
    if !url.username().is_empty() || url.password().is_some() {
        anyhow::bail!(
            "{option}: {} holds a user or password, which it has no use for",
            crate::redact::url(value)
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        anyhow::bail!(
            "{option}: {url} has a query or fragment; the receiver's paths are added to its end"
        );
    }
    if url.port() == Some(0) {
        anyhow::bail!("{option}: {url} has port 0, which no one can reach");
    }
    Ok(url)
}
