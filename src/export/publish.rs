//! A span from its read to its days published and recorded: each day's staged file is
//! published (under a lease scope, only while the pair's lease is still held), then its
//! partition recorded.

use tokio_util::sync::CancellationToken;

use super::admit::FetchSlot;
use super::read::SpanRead;
use super::source::{CallsSource, UsageSource};
use super::spans::{self, Span};
use super::{ExportError, Exporter, LeaseScope, Stopped, Window, WindowReport};
use crate::batch;
use crate::domain::{PartitionKey, Resource};
use crate::pseudonym::PseudonymMode;
use crate::registry::{LeaseHolder, ModeRule, RunId, Standing};

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
    /// counts their waits on Twilio and is given up once the days' files are written, before
    /// they are published.
    #[tracing::instrument(skip_all, fields(account = %span.first().key.account, resource = %span.first().key.resource, first = %span.first().key.day, days = span.days()))]
    pub(super) async fn export_span(
        &self,
        span: &Span,
        run: RunId,
        scope: Option<&LeaseScope>,
        cancel: &CancellationToken,
        fetch_slot: Option<FetchSlot>,
    ) -> Result<SpanEnd, ExportError> {
        let waits = fetch_slot.as_ref().map(FetchSlot::waits);
        let read = match span.first().key.resource {
            Resource::Calls => self.read_span::<CallsSource>(span, cancel, waits).await?,
            Resource::UsageRecords => self.read_span::<UsageSource>(span, cancel, waits).await?,
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
                Ok(true) => {
                    let holder = scope.map(LeaseScope::holder);
                    self.publish_day(w, staged, report, run, holder).await
                }
                Ok(false) | Err(_) => {
                    if let Some(path) = &staged {
                        self.store.discard(path).await;
                    }
                    Err(held.err().unwrap_or(ExportError::NoLongerOurs))
                }
            });
        }
        Ok(SpanEnd::Days(days))
    }

    /// Publishes one day's staged file (or removes the day's file for a day without rows)
    /// and records its partition, unless pseudonym modes would mix ([`Exporter::may_publish`]).
    async fn publish_day(
        &self,
        w: &Window,
        staged: Option<std::path::PathBuf>,
        report: WindowReport,
        run: RunId,
        holder: Option<&LeaseHolder>,
    ) -> Result<WindowReport, ExportError> {
        let key = w.key.object_key();
        let rule = self.mode_rule(w.key.resource, holder);
        // What an empty day would replace: its mode and rows, read once.
        let previous = match staged {
            None => self.registry.partition_mode(&w.key).await?,
            Some(_) => None,
        };
        if let Err(e) = self.may_publish(w, previous.as_ref(), rule).await {
            if let Some(path) = &staged {
                self.store.discard(path).await;
            }
            return Err(e);
        }
        let emptied_rows = self
            .put_in_place(w, staged.as_deref(), &key, previous)
            .await?;
        let object_key = staged.map(|_| key);
        self.record(w, &report, object_key.as_deref(), rule, run)
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
            emptied_rows,
            ..report
        })
    }

    /// Puts the day's file in place: `staged` published under `key`, or, for a day without
    /// rows, the file of an earlier run deleted. Returns the rows that file held (`previous`
    /// says), which is said: the API may no longer return them.
    async fn put_in_place(
        &self,
        w: &Window,
        staged: Option<&std::path::Path>,
        key: &str,
        previous: Option<(PseudonymMode, i64)>,
    ) -> Result<u64, ExportError> {
        if let Some(path) = staged {
            if let Err(e) = self.store.publish(path, key).await {
                self.store.discard(path).await;
                return Err(e.into());
            }
            return Ok(0);
        }
        self.store.delete(key).await?;
        let emptied_rows = previous.map_or(0, |(_, rows)| u64::try_from(rows).unwrap_or_default());
        if emptied_rows > 0 {
            tracing::warn!(
                account = %w.key.account,
                resource = %w.key.resource,
                day = %w.key.day,
                rows = emptied_rows,
                "Day emptied: the API returned no records for a day the export held rows of, and its file was removed (Twilio keeps call logs for a limited time)"
            );
        }
        Ok(emptied_rows)
    }

    /// Records the day's partition in this export's mode, if `rule` lets it stand; if not, its
    /// file is already published, so it is recorded as written all the same and the day is
    /// reported as mixing modes.
    async fn record(
        &self,
        w: &Window,
        report: &WindowReport,
        object_key: Option<&str>,
        rule: ModeRule<'_>,
        run: RunId,
    ) -> Result<(), ExportError> {
        let mode = self.pseudonyms.mode();
        let (rows, bytes) = (report.rows, report.bytes);
        let registry = &self.registry;
        let recorded = registry
            .record_partition_in_mode(&w.key, rows, bytes, object_key, &mode, rule, run)
            .await?;
        if !recorded {
            registry
                .record_partition(&w.key, rows, bytes, object_key, &mode, run)
                .await?;
            return Err(ExportError::OtherModes {
                published: Some(super::error::Published { rows, bytes }),
            });
        }
        Ok(())
    }

    /// What may stand beside this export's partitions of `resource`: anything for a resource
    /// without phone numbers or names; else nothing of another mode, but the days a backfill
    /// replaces of the accounts `holder` holds.
    fn mode_rule<'h>(&self, resource: Resource, holder: Option<&'h LeaseHolder>) -> ModeRule<'h> {
        if !batch::columns(resource).iter().any(|c| c.pseudonymized) {
            return ModeRule::Any;
        }
        ModeRule::Alone(self.pseudonyms.replaces().zip(holder))
    }

    /// Refuses a day before its file is published: when partitions of another mode were
    /// recorded since the export's check (another export's), or when an empty day would
    /// replace one written in another mode that holds rows (`previous`, the partition an
    /// empty day replaces).
    async fn may_publish(
        &self,
        w: &Window,
        previous: Option<&(PseudonymMode, i64)>,
        rule: ModeRule<'_>,
    ) -> Result<(), ExportError> {
        if matches!(rule, ModeRule::Any) {
            return Ok(());
        }
        let mode = self.pseudonyms.mode();
        if let Some((old, rows)) = previous {
            if *old != mode && *rows > 0 {
                return Err(ExportError::WouldEmpty {
                    day: w.key.day,
                    rows: *rows,
                    mode: old.clone(),
                });
            }
        }
        if self
            .registry
            .mode_conflict(w.key.resource, &mode, rule)
            .await?
        {
            return Err(ExportError::OtherModes { published: None });
        }
        Ok(())
    }

    /// Whether `scope` may still publish `key`'s pair (its lease held, its account still
    /// exported); if not, the account is marked lost in `scope` so that its remaining windows
    /// are skipped.
    async fn still_held(
        &self,
        scope: &LeaseScope,
        key: &PartitionKey,
    ) -> Result<bool, ExportError> {
        if scope.is_lost(&key.account) {
            return Ok(false);
        }
        let why = match self
            .registry
            .standing(&key.account, key.resource, scope.holder())
            .await?
        {
            Standing::Held => return Ok(true),
            Standing::TakenOver => Stopped::TakenOver,
            Standing::Removed => Stopped::Removed,
            Standing::Deauthorized => Stopped::Deauthorized,
        };
        scope.lose(&key.account, key.resource, why);
        Ok(false)
    }
}
