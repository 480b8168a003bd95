//! A span from its read to its days published and recorded: each day's staged file is
//! published (under a lease scope, only while the pair's lease is still held), then its
//! partition recorded.

use tokio_util::sync::CancellationToken;

use super::read::SpanRead;
use super::source::{CallsSource, UsageSource};
use super::spans::{self, Span};
use super::{ExportError, Exporter, LeaseScope, Window, WindowReport};
use crate::domain::{PartitionKey, Resource};
use crate::registry::RunId;

/// How a span ended once read: each day's outcome, in order, or the density to plan it
/// again with.
pub(super) enum SpanEnd {
    Days(Vec<Result<WindowReport, ExportError>>),
    Split(spans::Density),
}

impl Exporter {
    /// Reads a span and publishes and records each of its days; under `scope`, each only while
    /// the pair's lease is still held when its file is about to be published. A span that
    /// fails to be read publishes none of its days. `cancel` stops its requests; `fetch_slot`
    /// is given up once the last page is read.
    #[tracing::instrument(skip_all, fields(account = %span.first().key.account, resource = %span.first().key.resource, first = %span.first().key.day, days = span.days()))]
    pub(super) async fn export_span(
        &self,
        span: &Span,
        run: RunId,
        scope: Option<&LeaseScope>,
        cancel: &CancellationToken,
        fetch_slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<SpanEnd, ExportError> {
        let read = match span.first().key.resource {
            Resource::Calls => self.read_span::<CallsSource>(span, cancel).await?,
            Resource::UsageRecords => self.read_span::<UsageSource>(span, cancel).await?,
        };
        drop(fetch_slot);
        let (staged, reports) = match read {
            SpanRead::Read { staged, reports } => (staged, reports),
            SpanRead::Split(density) => return Ok(SpanEnd::Split(density)),
        };
        let mut days = Vec::with_capacity(span.days());
        for ((w, staged), report) in span.windows.iter().zip(staged).zip(reports) {
            let held = match scope {
                Some(scope) => self.still_held(scope, &w.key).await,
                None => Ok(true),
            };
            days.push(match held {
                Ok(true) => self.publish_day(w, staged, report, run).await,
                Ok(false) | Err(_) => {
                    if let Some(path) = &staged {
                        self.store.discard(path).await;
                    }
                    Err(held.err().unwrap_or(ExportError::LeaseLost))
                }
            });
        }
        Ok(SpanEnd::Days(days))
    }

    /// Publishes one day's staged file (or removes the day's file for a day without rows)
    /// and records its partition.
    async fn publish_day(
        &self,
        w: &Window,
        staged: Option<std::path::PathBuf>,
        report: WindowReport,
        run: RunId,
    ) -> Result<WindowReport, ExportError> {
        let key = w.key.object_key();
        match &staged {
            Some(path) => {
                if let Err(e) = self.store.publish(path, &key).await {
                    self.store.discard(path).await;
                    return Err(e.into());
                }
            }
            // A day without rows has no file; one written by an earlier run must go.
            None => self.store.delete(&key).await?,
        }
        let object_key = staged.map(|_| key);
        self.registry
            .record_partition(
                &w.key,
                report.rows,
                report.bytes,
                object_key.as_deref(),
                run,
            )
            .await?;
        tracing::debug!(day = %w.key.day, rows = report.rows, "Partition exported");
        if report.outside_window > 0 || report.duplicates > 0 {
            tracing::info!(
                day = %w.key.day,
                outside_window = report.outside_window,
                duplicates = report.duplicates,
                "Records left out of this partition: those of other days belong to their own day's, repeats were kept once"
            );
        }
        Ok(WindowReport {
            object_key,
            ..report
        })
    }

    /// Whether `scope` still holds the lease of `key`'s pair; if not, the account is marked
    /// lost in `scope` so that its remaining windows are skipped.
    async fn still_held(
        &self,
        scope: &LeaseScope,
        key: &PartitionKey,
    ) -> Result<bool, ExportError> {
        if !scope.is_lost(&key.account)
            && self
                .registry
                .holds_lease(&key.account, key.resource, scope.holder())
                .await?
        {
            return Ok(true);
        }
        if scope.lose(&key.account) {
            tracing::warn!(account = %key.account, resource = %key.resource, "Lease taken over by another process; this account's remaining windows are left to it");
        }
        Ok(false)
    }
}
