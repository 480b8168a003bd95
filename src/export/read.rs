//! Reading a span: its pages fetched, decoded into each day's builder and streamed into one
//! staged Parquet file per day ([`super::days`]).

use tokio_util::sync::CancellationToken;

use super::days::SpanDays;
use super::page::{PageEnd, PageRules};
use super::source::Source;
use super::spans::{self, Span};
use super::{ExportError, Exporter, WindowReport, PAGE_SIZE};
use crate::decode::value::days_since_epoch;
use crate::fetch::{FetchError, NetWaits, PageWalk};

impl Exporter {
    /// Pages through the span into one staged Parquet file per day (`None` for a day without
    /// rows). Every page holds at most the page size asked for, and only records of the
    /// span's account; links are followed per [`PageWalk`], at most [`Source::MAX_RECORDS`]
    /// a day. Batches are encoded and written off the async threads while the next page is
    /// fetched. A span of several days never exported whose first page is all one day's
    /// stops there ([`SpanRead::Split`]) and writes nothing.
    /// Its requests count their waits on Twilio in `waits`, if given.
    /// A page token the API no longer takes (400, code 21481) starts the span again from its
    /// first page, once: what was read of it is dropped.
    pub(super) async fn read_span<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
        waits: Option<&NetWaits>,
    ) -> Result<SpanRead, ExportError> {
        match self.read_span_once::<S>(span, cancel, waits).await {
            Err(ExportError::Fetch(e @ FetchError::StalePageToken { .. })) => {
                tracing::warn!(
                    partition = %span.first().key,
                    days = span.days(),
                    error = %e,
                    "The API no longer takes a page token of this span; reading it again from its first page"
                );
                self.read_span_once::<S>(span, cancel, waits).await
            }
            read => read,
        }
    }

    async fn read_span_once<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
        waits: Option<&NetWaits>,
    ) -> Result<SpanRead, ExportError> {
        let resource = span.first().key.resource;
        let mut days = SpanDays::new(resource, span.days(), &self.store, self.pseudonyms.key())
            .reusing(&self.spent);
        let mut report = WindowReport::default();
        let result = self
            .read_pages::<S>(span, cancel, waits, &mut days, &mut report)
            .await;
        let split = match result {
            Ok(split) => split,
            Err(e) => {
                days.abandon().await;
                return Err(e);
            }
        };
        if let Some(density) = split {
            days.abandon().await;
            return Ok(SpanRead::Split(density));
        }
        let keep = |batch| self.spent.put(resource, batch);
        let mut staged: Vec<Option<std::path::PathBuf>> = Vec::with_capacity(span.days());
        let mut reports = Vec::with_capacity(span.days());
        let mut days = days.days.into_iter();
        while let Some(day) = days.next() {
            let duplicates = day.duplicates;
            let file = match day.finish(&self.store, &keep).await {
                Ok(file) => file,
                Err(e) => {
                    for path in staged.iter().flatten() {
                        self.store.discard(path).await;
                    }
                    for day in days {
                        day.abandon(&self.store).await;
                    }
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
        // Records of other days only, some of them not of the day after the span's last:
        // not what Twilio's filter gives, whichever way it reads the bounds, so the days are
        // not emptied on that answer.
        if report.off_bounds > 0 && staged.iter().all(Option::is_none) {
            return Err(ExportError::NothingInRange {
                outside: report.outside_window,
            });
        }
        Ok(SpanRead::Read { staged, reports })
    }

    /// Reads every page of the span into its days' builders, handing full batches to their
    /// writers (the rest goes to each as its day is finished) and finishing the days the
    /// pages have passed ([`SpanDays::page_done`]); the first page's density when the span
    /// is to be planned again.
    async fn read_pages<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
        waits: Option<&NetWaits>,
        days: &mut SpanDays<'_>,
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
        let batch_rows = days.batch_rows();
        let mut uri = Some(walk.first().clone());
        while let Some(page_uri) = uri.take() {
            let mut retries = 0;
            let page = self.client.get_counted(
                &first.credential,
                &first.key.account,
                &page_uri,
                &mut retries,
                waits,
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
            let probed = span.probe && report.pages == 1 && next.is_some();
            if probed && density.splits(span.days(), page_size) {
                return Ok(Some(density));
            }
            days.page_done(batch_rows).await?;
            uri = walk.follow(next, self.client.base())?;
        }
        Ok(None)
    }
}

/// What reading a span gave.
pub(super) enum SpanRead {
    /// Every page was read: each day's staged file (`None` without rows) and report.
    Read {
        staged: Vec<Option<std::path::PathBuf>>,
        reports: Vec<WindowReport>,
    },
    /// The first page showed the span's days dense; nothing was written.
    Split(spans::Density),
}
