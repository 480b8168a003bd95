//! The spine: one window (an account, a resource, a UTC day) through fetch → decode → batch →
//! writer → store, then recorded in the registry; and many windows run side by side. Windows
//! are read in spans (consecutive days with one query, `spans`), each day to its own file.
//!
//! **Invariant:** a partition is recorded only after its file is durable under its final key,
//! and a window that fails leaves the partition as it was; a span that fails to be read
//! publishes none of its days. Both resources go through the same
//! code; they differ only in their `Source` (`export::source`).

use tokio_util::sync::CancellationToken;

use crate::batch::SpentBatches;
use crate::fetch::TwilioClient;
use crate::pseudonym::Pseudonymization;
use crate::registry::{Registry, RunId};
use crate::store::Store;

mod admit;
mod days;
mod error;
mod outcome;
mod page;
mod publish;
mod read;
mod run;
mod scope;
mod source;
mod spans;

pub use error::{ExportError, MODE_CONFLICT};
pub use outcome::{Summary, Window, WindowEvent, WindowReport};
pub use scope::{LeaseScope, Stopped};

use publish::SpanEnd;
use spans::Span;

/// Records per page asked of the API (its maximum, `docs/twilio-api.md` §3).
pub const PAGE_SIZE: u32 = 1000;
/// Rows buffered before they are handed to the Parquet writer.
const BATCH_ROWS: usize = 4096;

/// Everything a window needs.
#[derive(Clone)]
pub struct Exporter {
    pub client: TwilioClient,
    pub registry: Registry,
    pub store: Store,
    pub cancel: CancellationToken,
    /// Whether phone numbers and names are written as pseudonyms, and under which key;
    /// each partition is recorded with the mode it was written in.
    pub pseudonyms: Pseudonymization,
    /// Batches written, whose buffers the next days' builders start in, until the run ends.
    pub spent: SpentBatches,
}

impl Exporter {
    /// Exports one window and records its partition.
    pub async fn export_window(&self, w: &Window, run: RunId) -> Result<WindowReport, ExportError> {
        let span = Span {
            windows: vec![w.clone()],
            probe: false,
        };
        let end = self.export_span(&span, run, None, &self.cancel, None).await;
        // Outside a run, nothing else drops the batch the window kept.
        self.spent.clear();
        self.store.end_run();
        match end? {
            SpanEnd::Days(mut days) => days.remove(0),
            SpanEnd::Split(_) => unreachable!("a span of one day is never split"),
        }
    }
}
