//! Shutdown wiring: a `CancellationToken` cancelled on SIGINT or SIGTERM. Long-running code
//! takes the token as an argument; nothing here is global.

use tokio_util::sync::CancellationToken;

/// What an export says when it is asked to stop.
pub const EXPORT_STOPS: &str =
    "Stop requested: requests in flight are abandoned, finished partitions stay recorded";

/// A token that is cancelled when the process is asked to stop; `said` is logged then (what
/// stopping means for this command). The handlers are in place when this returns: a signal
/// that comes at once is not met with the default action (the process killed as it is).
/// A second signal ends the process at once, exit 1, while the first one's stop waits (on a
/// database that does not answer, say): what was not recorded is exported again by the next
/// run, as after a crash.
pub fn on_signal(said: impl std::fmt::Display + Send + 'static) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    let mut stop = Signals::install();
    tokio::spawn(async move {
        stop.wait().await;
        // Cancelled before anything is said: should saying it fail (stderr gone), the stop
        // is not lost with it.
        t.cancel();
        tracing::info!("{said}");
        stop.wait().await;
        crate::telemetry::say(
            crate::telemetry::Level::WARN,
            "Second stop request: exiting now; what was not recorded is exported again by the next run",
        );
        std::process::exit(1);
    });
    token
}

/// SIGINT and SIGTERM, listened for.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                interrupt: signal(SignalKind::interrupt()).expect("can install a SIGINT handler"),
                terminate: signal(SignalKind::terminate()).expect("can install a SIGTERM handler"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
