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

/// Rows a batch has at least to be kept (a page's worth): a builder started in a smaller
/// one would grow from it by doubling, where a new one is sized from its first row.
const KEPT_ROWS: usize = 1000;

/// Written batches whose buffers nothing else holds, for builders of their resource.
#[derive(Clone, Default)]
pub struct SpentBatches(Arc<Mutex<Vec<(Resource, RecordBatch)>>>);

impl SpentBatches {
    /// Keeps `batch`, of `resource`, unless it has fewer than [`KEPT_ROWS`] rows or [`KEPT`]
    /// of its resource are kept already.
    pub fn put(&self, resource: Resource, batch: RecordBatch) {
        if batch.num_rows() < KEPT_ROWS {
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

    /// A kept batch of `resource`, if any.
    pub fn take(&self, resource: Resource) -> Option<RecordBatch> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = kept.iter().rposition(|(r, _)| *r == resource)?;
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

    /// A batch of `rows` rows (the pool looks at nothing else).
    fn batch(rows: usize) -> RecordBatch {
        let column = arrow::array::Int64Array::from(vec![0; rows]);
        RecordBatch::try_from_iter([("n", std::sync::Arc::new(column) as _)]).unwrap()
    }

    #[test]
    fn batches_smaller_than_a_page_are_not_kept() {
        let spent = SpentBatches::default();
        spent.put(Resource::Calls, batch(KEPT_ROWS - 1));
        assert!(spent.take(Resource::Calls).is_none());
        spent.put(Resource::Calls, batch(KEPT_ROWS));
        assert!(spent.take(Resource::Calls).is_some());
    }

    #[test]
    fn batches_are_kept_per_resource_up_to_a_bound() {
        let spent = SpentBatches::default();
        for _ in 0..KEPT + 2 {
            spent.put(Resource::Calls, batch(KEPT_ROWS));
        }
        spent.put(Resource::UsageRecords, batch(KEPT_ROWS));
        for _ in 0..KEPT {
            assert!(spent.take(Resource::Calls).is_some());
        }
        assert!(spent.take(Resource::Calls).is_none());
        assert!(spent.take(Resource::UsageRecords).is_some());
        assert!(spent.take(Resource::UsageRecords).is_none());
        spent.put(Resource::Calls, batch(KEPT_ROWS));
        spent.clear();
        assert!(spent.take(Resource::Calls).is_none());
    }
}
