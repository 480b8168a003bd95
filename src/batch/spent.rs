//! [`SpentBatches`]: batches already written, kept for the next days' builders to start in.
//!
//! A day's builder grows to a day's batch (about 9 MB for 5,000 calls, most of it
//! `subresource_uris`), and fresh memory is faulted in page by page as it fills. Within a
//! window the next batch is built in the buffers of the one just written
//! ([`super::BatchBuilder::finish_reusing`]); across windows, a new day's builder takes a batch
//! another day has finished with. A run of many days then touches memory once per window it
//! keeps open, not once per day.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;

use crate::domain::Resource;

/// Batches kept at most, of each resource: about the windows a run keeps fetching against
/// a fast server, so that most days find one; each is a day's batch of memory held.
const KEPT: usize = 4;

/// Bytes of buffers a batch holds at least to be kept, rows or not (a few hundred calls): a
/// builder started in a smaller one would grow from it by doubling, where a new one is sized
/// from its first row.
const KEPT_BYTES: usize = 256 << 10;

/// Written batches whose buffers nothing else holds, for builders of their resource.
#[derive(Clone, Default)]
pub struct SpentBatches(Arc<Mutex<Vec<(Resource, RecordBatch)>>>);

impl SpentBatches {
    /// Keeps `batch`, of `resource`, unless its buffers hold less than [`KEPT_BYTES`] or
    /// [`KEPT`] of its resource are kept already.
    pub fn put(&self, resource: Resource, batch: RecordBatch) {
        if batch.get_array_memory_size() < KEPT_BYTES {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.iter().filter(|(r, _)| *r == resource).count() < KEPT {
            kept.push((resource, batch));
        }
    }

    /// Drops every kept batch (at the end of a run: an idle process holds none).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The largest kept batch of `resource`, if any.
    pub fn take(&self, resource: Resource) -> Option<RecordBatch> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = (kept.iter().enumerate())
            .filter(|(_, (r, _))| *r == resource)
            .max_by_key(|(_, (_, b))| b.get_array_memory_size())?
            .0;
        Some(kept.swap_remove(at).1)
    }
}

impl std::fmt::Debug for SpentBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.0.lock().map_or(0, |k| k.len());
        f.debug_struct("SpentBatches").field("kept", &kept).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of no rows in buffers of `bytes` (the pool looks at nothing else).
    fn batch(bytes: usize) -> RecordBatch {
        let mut values = arrow::array::Int64Builder::with_capacity(bytes / 8);
        let column = values.finish();
        RecordBatch::try_from_iter([("n", std::sync::Arc::new(column) as _)]).unwrap()
    }

    #[test]
    fn batches_in_small_buffers_are_not_kept_and_the_largest_is_taken_first() {
        let spent = SpentBatches::default();
        spent.put(Resource::Calls, batch(KEPT_BYTES / 2));
        assert!(spent.take(Resource::Calls).is_none());
        spent.put(Resource::Calls, batch(KEPT_BYTES));
        spent.put(Resource::Calls, batch(KEPT_BYTES * 4));
        spent.put(Resource::Calls, batch(KEPT_BYTES * 2));
        let sizes: Vec<usize> = std::iter::from_fn(|| spent.take(Resource::Calls))
            .map(|b| b.get_array_memory_size() / KEPT_BYTES)
            .collect();
        assert_eq!(sizes, [4, 2, 1]);
    }

    #[test]
    fn batches_are_kept_per_resource_up_to_a_bound() {
        let spent = SpentBatches::default();
        for _ in 0..KEPT + 2 {
            spent.put(Resource::Calls, batch(KEPT_BYTES));
        }
        spent.put(Resource::UsageRecords, batch(KEPT_BYTES));
        for _ in 0..KEPT {
            assert!(spent.take(Resource::Calls).is_some());
        }
        assert!(spent.take(Resource::Calls).is_none());
        assert!(spent.take(Resource::UsageRecords).is_some());
        assert!(spent.take(Resource::UsageRecords).is_none());
        spent.put(Resource::Calls, batch(KEPT_BYTES));
        spent.clear();
        assert!(spent.take(Resource::Calls).is_none());
    }
}
