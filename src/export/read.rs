//! Reading a span: its pages fetched, decoded into each day's builder and streamed into one
//! staged Parquet file per day.

use tokio_util::sync::CancellationToken;

use super::page::{PageEnd, PageRules, Seen};
use super::source::Source;
use super::spans::{self, Span};
use super::{ExportError, Exporter, WindowReport, BATCH_ROWS, PAGE_SIZE};
use crate::batch::BatchBuilder;
use crate::decode::value::days_since_epoch;
use crate::domain::Resource;
use crate::fetch::{FetchError, PageWalk};
use crate::pseudonym::PseudonymKey;
use crate::store::Store;
use crate::writer::{BackgroundWriter, WriteError};

impl Exporter {
    /// Pages through the span into one staged Parquet file per day (`None` for a day without
    /// rows). Every page holds at most the page size asked for, and only records of the
    /// span's account; links are followed per [`PageWalk`], at most [`Source::MAX_RECORDS`]
    /// a day. Batches are encoded and written off the async threads while the next page is
    /// fetched. A span of several days whose first page shows it far denser than planned
    /// stops there ([`SpanRead::Split`]) and writes nothing.
    pub(super) async fn read_span<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
    ) -> Result<SpanRead, ExportError> {
        let mut days: Vec<DayPart> = (0..span.days())
            .map(|_| {
                DayPart::new(
                    span.first().key.resource,
                    &self.store,
                    self.pseudonyms.key(),
                )
            })
            .collect();
        let mut report = WindowReport::default();
        let result = self
            .read_pages::<S>(span, cancel, &mut days, &mut report)
            .await;
        let split = match result {
            Ok(split) => split,
            Err(e) => {
                self.abandon(days).await;
                return Err(e);
            }
        };
        if let Some(density) = split {
            self.abandon(days).await;
            return Ok(SpanRead::Split(density));
        }
        let mut staged: Vec<Option<std::path::PathBuf>> = Vec::with_capacity(days.len());
        let mut reports = Vec::with_capacity(days.len());
        let mut days = days.into_iter();
        while let Some(mut day) = days.next() {
            // A day's last rows are written just before it is finished, so that a span of
            // many sparse days has one Parquet writer open at a time, not one per day.
            let duplicates = day.duplicates;
            let file = match day.write_rest().await {
                Ok(()) => day.writer.finish().await,
                Err(e) => {
                    self.abandon(vec![day]).await;
                    Err(e)
                }
            };
            let file = match file {
                Ok(file) => file,
                Err(e) => {
                    for path in staged.iter().flatten() {
                        self.store.discard(path).await;
                    }
                    self.abandon(days.collect()).await;
                    return Err(e.into());
                }
            };
            let mut r = WindowReport {
                duplicates,
                ..WindowReport::default()
            };
            if let Some(f) = &file {
                (r.rows, r.bytes) = (f.rows, f.bytes);
            }
            // The span's own counts go with its first day.
            if reports.is_empty() {
                (r.pages, r.outside_window, r.retries) =
                    (report.pages, report.outside_window, report.retries);
            }
            staged.push(file.map(|f| f.path));
            reports.push(r);
        }
        if report.outside_window > 0 && staged.iter().all(Option::is_none) {
            return Err(ExportError::NothingInRange {
                outside: report.outside_window,
            });
        }
        Ok(SpanRead::Read { staged, reports })
    }

    /// Stops writing the days of a span and removes their partial files.
    async fn abandon(&self, days: Vec<DayPart>) {
        for day in days {
            if let Some(path) = day.writer.abandon().await {
                self.store.discard(&path).await;
            }
        }
    }

    /// Reads every page of the span into its days' builders, handing full batches to their
    /// writers (the rest goes to each as its day is finished); the first page's density
    /// when the span is to be planned again.
    async fn read_pages<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
        days: &mut [DayPart],
        report: &mut WindowReport,
    ) -> Result<Option<spans::Density>, ExportError> {
        let (first, last) = (span.first(), span.last());
        let page_size = first.page_size.clamp(1, PAGE_SIZE);
        let rules = PageRules {
            account: &first.key.account,
            first_day: days_since_epoch(first.key.day),
            max_records: page_size as usize,
        };
        let mut walk = PageWalk::new(
            S::first_page(&first.key.account, first.key.day, last.key.day, page_size),
            (S::MAX_RECORDS * span.days() as u64).div_ceil(u64::from(page_size)) + 1,
        );
        // Rows a day holds before they go to its writer: one batch in all across the span.
        let batch_rows = (BATCH_ROWS / days.len()).max(256);
        let mut uri = Some(walk.first().clone());
        while let Some(page_uri) = uri.take() {
            let mut retries = 0;
            let page = self.client.get_counted(
                &first.credential,
                &first.key.account,
                &page_uri,
                &mut retries,
                |body| rules.take::<S>(body, days, report),
            );
            let end = tokio::select! {
                end = page => end,
                _ = cancel.cancelled() => return Err(FetchError::Cancelled.into()),
            };
            report.retries += retries;
            let end = end?;
            let (next, density) = match end {
                PageEnd::Next(next, density) => (next, density),
                PageEnd::Foreign(found) => {
                    return Err(FetchError::ForeignRecord {
                        path: page_uri.path().to_owned(),
                        expected: first.key.account.clone(),
                        found,
                    }
                    .into())
                }
            };
            report.pages += 1;
            if report.pages == 1 && next.is_some() && density.splits(span.days(), page_size) {
                return Ok(Some(density));
            }
            for day in days.iter_mut().filter(|d| d.builder.len() >= batch_rows) {
                day.writer.write(day.builder.finish()).await?;
            }
            uri = walk.follow(next, self.client.base())?;
        }
        Ok(None)
    }
}

/// One day of a span being read: its rows, its staged file, the records it kept once.
pub(super) struct DayPart {
    pub(super) builder: BatchBuilder,
    pub(super) writer: BackgroundWriter,
    pub(super) seen: Seen,
    pub(super) duplicates: u64,
}

impl DayPart {
    /// Hands the rows not yet written to the writer.
    async fn write_rest(&mut self) -> Result<(), WriteError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        self.writer.write(self.builder.finish()).await
    }

    /// Under `pseudonym`, its phone numbers and names are written as pseudonyms.
    pub(super) fn new(resource: Resource, store: &Store, pseudonym: Option<&PseudonymKey>) -> Self {
        let builder = BatchBuilder::pseudonymized(resource, pseudonym);
        let writer =
            BackgroundWriter::new(store.staging_path(), store.staging_mode(), builder.schema());
        Self {
            builder,
            writer,
            seen: Seen::default(),
            duplicates: 0,
        }
    }
}

/// What reading a span gave.
pub(super) enum SpanRead {
    /// Every page was read: each day's staged file (`None` without rows) and report.
    Read {
        staged: Vec<Option<std::path::PathBuf>>,
        reports: Vec<WindowReport>,
    },
    /// The first page showed the span far denser than planned; nothing was written.
    Split(spans::Density),
}
