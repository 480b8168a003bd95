//! Waiting on a condition, never on time: a bounded poll that fails naming what it waited for.

use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] looks.
const EVERY: Duration = Duration::from_millis(20);
/// How long [`eventually`] looks before it fails: far more than any condition here needs, so
/// that a slow machine is never a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` until it gives `Some`, and returns that; fails naming `what` if it never does.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let tries = PATIENCE.as_millis() / EVERY.as_millis();
    for _ in 0..tries {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(EVERY).await;
    }
    panic!("waited {PATIENCE:?} in vain for {what}");
}

/// Sends `child` SIGTERM and waits for it to exit (at most 30 s), with its captured output.
pub async fn terminated(child: tokio::process::Child) -> std::process::Output {
    let pid = child.id().expect("still running").to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(term.unwrap().success(), "kill -TERM {pid}");
    tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stopped within 30 s")
        .unwrap()
}
