//! Reading a span: its pages fetched, decoded into each day's builder and streamed into one
//! staged Parquet file per day.

use std::borrow::Cow;

use arrow::array::RecordBatch;
use tokio_util::sync::CancellationToken;

use super::page::{PageEnd, PageRules, Seen};
use super::source::Source;
use super::spans::{self, Span};
use super::{ExportError, Exporter, WindowReport, BATCH_ROWS, PAGE_SIZE};
use crate::batch::{AppendRow, BatchBuilder, SpentBatches};
use crate::decode::value::days_since_epoch;
use crate::domain::Resource;
use crate::fetch::{FetchError, NetWaits, PageWalk};
use crate::pseudonym::PseudonymKey;
use crate::store::Store;
use crate::writer::{BackgroundWriter, WriteError, WrittenFile};

impl Exporter {
    /// Pages through the span into one staged Parquet file per day (`None` for a day without
    /// rows). Every page holds at most the page size asked for, and only records of the
    /// span's account; links are followed per [`PageWalk`], at most [`Source::MAX_RECORDS`]
    /// a day. Batches are encoded and written off the async threads while the next page is
    /// fetched. A span of several days never exported whose first page is all one day's
    /// stops there ([`SpanRead::Split`]) and writes nothing.
    /// Its requests count their waits on Twilio in `waits`, if given.
    pub(super) async fn read_span<S: Source>(
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
                self.abandon(days.days).await;
                return Err(e);
            }
        };
        if let Some(density) = split {
            self.abandon(days.days).await;
            return Ok(SpanRead::Split(density));
        }
        let keep = |batch| self.spent.put(resource, batch);
        let mut staged: Vec<Option<std::path::PathBuf>> = Vec::with_capacity(span.days());
        let mut reports = Vec::with_capacity(span.days());
        let mut days = days.days.into_iter();
        while let Some(mut day) = days.next() {
            // A day's last rows are written just before it is finished, so that a span of
            // many sparse days has one Parquet writer open at a time, not one per day.
            let duplicates = day.duplicates;
            let file = match day.write_rest(&keep).await {
                Ok(()) => day.finish(&keep).await,
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
        for rows in days.into_iter().filter_map(|day| day.rows) {
            if let Some(path) = rows.writer.abandon().await {
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
            days.write_full(batch_rows).await?;
            uri = walk.follow(next, self.client.base())?;
        }
        Ok(None)
    }
}

/// The days of a span being read, from its first. A day's builder and staged file are made
/// when its first row comes, in the buffers of a batch another day has finished with if one
/// is kept, else with room for the rows of that page: a span of many sparse or empty days
/// holds no more than its rows, and the kept batches.
pub(super) struct SpanDays<'s> {
    pub(super) days: Vec<DayPart>,
    resource: Resource,
    store: &'s Store,
    pseudonym: Option<&'s PseudonymKey>,
    spent: Option<&'s SpentBatches>,
}

impl<'s> SpanDays<'s> {
    /// `count` days without rows; under `pseudonym`, their phone numbers and names are
    /// written as pseudonyms.
    pub(super) fn new(
        resource: Resource,
        count: usize,
        store: &'s Store,
        pseudonym: Option<&'s PseudonymKey>,
    ) -> Self {
        Self {
            days: (0..count).map(|_| DayPart::default()).collect(),
            resource,
            store,
            pseudonym,
            spent: None,
        }
    }

    /// Days whose builders start in batches kept in `spent` when there are any.
    pub(super) fn reusing(self, spent: &'s SpentBatches) -> Self {
        Self {
            spent: Some(spent),
            ..self
        }
    }

    pub(super) fn len(&self) -> usize {
        self.days.len()
    }

    /// Rows a day holds before they go to its writer: one batch in all across the span.
    pub(super) fn batch_rows(&self) -> usize {
        (BATCH_ROWS / self.days.len().max(1)).max(256)
    }

    /// Hands each day's rows to its writer once they reach `batch_rows`; the day goes on in
    /// the buffers of the batch written before, or of a kept one.
    async fn write_full(&mut self, batch_rows: usize) -> Result<(), WriteError> {
        let (resource, spent) = (self.resource, self.spent);
        for rows in self.days.iter_mut().filter_map(|d| d.rows.as_mut()) {
            if rows.builder.len() >= batch_rows {
                let builder = &mut rows.builder;
                let kept = || spent.and_then(|s| s.take(resource));
                (rows.writer)
                    .write_next(|written| builder.finish_reusing(written.or_else(kept)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Adds `rec`, of identity `id`, to day `i` unless the day has it already; a day's first
    /// row makes its builder, with room for `room` rows.
    pub(super) fn push<R: AppendRow>(&mut self, i: usize, id: Cow<'_, str>, rec: &R, room: usize) {
        let day = &mut self.days[i];
        if !day.seen.insert(id) {
            day.duplicates += 1;
            return;
        }
        let rows = day.rows.get_or_insert_with(|| {
            let kept = self.spent.and_then(|s| s.take(self.resource));
            // Buffers are made for `room` rows only when no kept batch gives its own.
            let room = if kept.is_some() { 0 } else { room };
            let mut builder =
                BatchBuilder::pseudonymized_with_capacity(self.resource, self.pseudonym, room);
            if let Some(batch) = kept {
                builder.restart_in(batch);
            }
            let writer = BackgroundWriter::new(
                self.store.staging_path(),
                self.store.staging_mode(),
                builder.schema(),
            );
            DayRows { builder, writer }
        });
        rows.builder.push(rec);
    }
}

/// One day of a span being read: its rows once it has any, the records it kept once.
#[derive(Default)]
pub(super) struct DayPart {
    pub(super) rows: Option<DayRows>,
    pub(super) seen: Seen,
    pub(super) duplicates: u64,
}

/// The rows of a day and their staged file.
pub(super) struct DayRows {
    pub(super) builder: BatchBuilder,
    pub(super) writer: BackgroundWriter,
}

impl DayPart {
    /// Hands the rows not yet written to the writer, giving the batch written before them,
    /// if any, to `keep`.
    async fn write_rest(&mut self, keep: &impl Fn(RecordBatch)) -> Result<(), WriteError> {
        match &mut self.rows {
            Some(rows) if !rows.builder.is_empty() => {
                let written = rows.writer.write_last(rows.builder.finish_last()).await?;
                written.map(keep);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Finishes the day's staged file (`None` for a day without rows), giving its last batch,
    /// and the builder's buffers, to `keep`.
    async fn finish(self, keep: &impl Fn(RecordBatch)) -> Result<Option<WrittenFile>, WriteError> {
        let Some(mut rows) = self.rows else {
            return Ok(None);
        };
        // The builder, emptied, may still hold the buffers it restarted in: they go too.
        keep(rows.builder.finish_last());
        let finished = rows.writer.finish().await?;
        Ok(finished.map(|(file, batch)| {
            keep(batch);
            file
        }))
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

#[cfg(test)]
mod tests {
    use super::super::page::{PageEnd, PageRules};
    use super::super::source::UsageSource;
    use super::*;
    use crate::domain::AccountSid;

    const ACCOUNT: &str = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";

    /// A local store in a new directory, with its staging directory made.
    fn staging() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local {
            root: dir.path().to_owned(),
        };
        std::fs::create_dir_all(store.staging_dir()).unwrap();
        (dir, store)
    }

    /// The rules of a span of `account` from 2026-03-01, pages of at most `max_records`.
    fn rules_from_march_1(account: &AccountSid, max_records: usize) -> PageRules<'_> {
        PageRules {
            account,
            first_day: days_since_epoch("2026-03-01".parse().unwrap()),
            max_records,
        }
    }

    #[tokio::test]
    async fn only_days_with_rows_get_a_builder_and_a_file() {
        let (_dir, store) = staging();
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let rules = rules_from_march_1(&account, 10);
        let record = |day: &str, category: &str| {
            format!(r#"{{"account_sid":"{ACCOUNT}","category":"{category}","start_date":"{day}"}}"#)
        };
        let body = format!(
            r#"{{"usage_records":[{},{},{}],"next_page_uri":null}}"#,
            record("2026-03-01", "calls"),
            record("2026-03-03", "calls"),
            record("2026-03-03", "sms"),
        );
        let mut days = SpanDays::new(Resource::UsageRecords, 3, &store, None);
        let end =
            rules.take::<UsageSource>(body.as_bytes(), &mut days, &mut WindowReport::default());
        assert!(matches!(end, Ok(PageEnd::Next(None, _))));
        let rows: Vec<Option<usize>> = (days.days.iter())
            .map(|d| d.rows.as_ref().map(|r| r.builder.len()))
            .collect();
        assert_eq!(rows, vec![Some(1), None, Some(2)]);

        let mut files = Vec::new();
        for mut day in days.days {
            day.write_rest(&drop).await.unwrap();
            files.push(day.finish(&drop).await.unwrap().map(|f| f.rows));
        }
        assert_eq!(files, vec![Some(1), None, Some(2)]);
        let staged: Vec<_> = (std::fs::read_dir(store.staging_dir()).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(staged.len(), 2, "a staged file for each day with rows only");
        // Each day's rows were its file's only batch, of a few records: Snappy, not ZSTD.
        for path in staged {
            use parquet::basic::Compression::{SNAPPY, UNCOMPRESSED};
            use parquet::file::reader::{FileReader, SerializedFileReader};
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            let codecs: Vec<_> = (reader.metadata().row_group(0).columns().iter())
                .map(|c| c.compression())
                .collect();
            assert!(codecs.contains(&SNAPPY), "{codecs:?}");
            assert!(codecs.iter().all(|c| matches!(c, SNAPPY | UNCOMPRESSED)));
        }
    }

    #[tokio::test]
    async fn a_day_is_built_in_a_batch_another_day_finished_with_and_gives_its_own_back() {
        let (_dir, store) = staging();
        let buffer = |b: &arrow::array::RecordBatch| {
            let category = b.column_by_name("category").unwrap().to_data();
            category.buffers().last().unwrap().as_ptr() as usize
        };
        let spent = SpentBatches::default();
        let mut kept = None;
        for round in 0..2 {
            let mut day = page_of_usage_records(&store, &spent).days.remove(0);
            let last = std::cell::RefCell::new(None);
            let keep = |b| *last.borrow_mut() = Some(b);
            day.write_rest(&keep).await.unwrap();
            day.finish(&keep).await.unwrap().unwrap();
            let last = last.take().expect("the day's last batch");
            if round == 1 {
                assert_eq!(Some(buffer(&last)), kept, "built in the kept batch");
            }
            kept = Some(buffer(&last));
            spent.put(Resource::UsageRecords, last);
        }
    }

    /// One day of a span read from a page of 1000 usage records of 2026-03-01, its builder
    /// started in a batch of `spent` if one is kept: their batch's buffers are large enough to
    /// be kept.
    fn page_of_usage_records<'s>(store: &'s Store, spent: &'s SpentBatches) -> SpanDays<'s> {
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let records: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    r#"{{"account_sid":"{ACCOUNT}","category":"c{i}","start_date":"2026-03-01"}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"usage_records":[{}],"next_page_uri":null}}"#,
            records.join(",")
        );
        let mut days = SpanDays::new(Resource::UsageRecords, 1, store, None).reusing(spent);
        let rules = rules_from_march_1(&account, 1000);
        let end =
            rules.take::<UsageSource>(body.as_bytes(), &mut days, &mut WindowReport::default());
        assert!(matches!(end, Ok(PageEnd::Next(None, _))));
        days
    }

    #[tokio::test]
    async fn a_finished_day_gives_back_the_kept_batch_its_builder_went_on_in() {
        let (_dir, store) = staging();
        let spent = SpentBatches::default();
        let keep = |b| spent.put(Resource::UsageRecords, b);
        let read = || page_of_usage_records(&store, &spent);
        // Two days read at once leave two batches kept.
        for days in [read(), read()] {
            let mut day = days.days.into_iter().next().unwrap();
            day.write_rest(&keep).await.unwrap();
            day.finish(&keep).await.unwrap().unwrap();
        }
        // A day whose rows make a full batch takes both: one to build in, one to go on in
        // once the first is handed to its writer.
        let mut days = read();
        days.write_full(1).await.unwrap();
        let mut day = days.days.remove(0);
        day.write_rest(&keep).await.unwrap();
        day.finish(&keep).await.unwrap().unwrap();
        let given_back = std::iter::from_fn(|| spent.take(Resource::UsageRecords)).count();
        assert_eq!(given_back, 2, "a day gives back as many batches as it took");
    }
}
