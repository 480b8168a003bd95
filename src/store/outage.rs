//! A store that stopped answering. The first upload or delete of a run that failed only after
//! `object_store` had waited out its own retries marks the store down until the run ends: the
//! run's other days then fail at once (the next run exports them again) instead of each
//! waiting out the retries in turn, a minute or more per day.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::StoreError;

/// A failure that took at least this long was the store's retries running out (its client
/// waits up to 30 s for a request and retries for up to 3 minutes). A quicker one is an
/// answer (a refusal of this object, say) and says nothing of the next object.
pub(super) const SLOW_FAILURE: Duration = Duration::from_secs(20);

/// Whether the store was found down in this run, shared by the clones of a store.
#[derive(Clone, Default)]
pub struct Outage(Arc<Mutex<Option<Down>>>);

/// The failure that marked the store down: where, and after how long.
#[derive(Clone)]
struct Down {
    location: String,
    waited: Duration,
}

impl Outage {
    /// Runs `op` on the object at `location`, unless the store was found down earlier in the
    /// run; a failure of `op` that took [`SLOW_FAILURE`] or more finds it down.
    pub(super) async fn attempt<T>(
        &self,
        location: String,
        op: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, StoreError> {
        if let Some(down) = self.lock().clone() {
            return Err(StoreError::Down {
                location,
                first: down.location,
                waited_secs: down.waited.as_secs(),
            });
        }
        let started = Instant::now();
        op.await.map_err(|cause| {
            let waited = started.elapsed();
            if waited >= SLOW_FAILURE {
                self.lock().get_or_insert(Down {
                    location: location.clone(),
                    waited,
                });
            }
            StoreError::Remote { location, cause }
        })
    }

    /// The run ended: the next one tries the store again.
    pub(super) fn clear(&self) {
        self.lock().take();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Down>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
