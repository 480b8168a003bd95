//! Shutdown wiring: a `CancellationToken` cancelled on SIGINT or SIGTERM. Long-running code
//! takes the token as an argument; nothing here is global.

use tokio_util::sync::CancellationToken;

/// What an export says when it is asked to stop.
pub const EXPORT_STOPS: &str =
    "Stop requested: requests in flight are abandoned, finished partitions stay recorded";

/// A token that is cancelled when the process is asked to stop; `said` is logged then (what
/// stopping means for this command).
pub fn on_signal(said: impl std::fmt::Display + Send + 'static) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        // Cancelled before anything is said: should saying it fail (stderr gone), the stop
        // is not lost with it.
        t.cancel();
        tracing::info!("{said}");
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("can install a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
