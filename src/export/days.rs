//! The days of a span being read: each day's builder and staged file, the records it kept,
//! and when its file is finished.
//!
//! A span's rows go to one file per day. Twilio lists calls newest first, so the pages of a
//! span of many days walk through its days one after another. A day that had rows on an
//! earlier page and lies outside the first and last day of the last page's rows is passed:
//! its file is finished then, off the reading task, instead of staying open, with its builder
//! and its Parquet writer, until the span's last page ([`SpanDays::finish_passed`]). A span
//! of 31 days of a thousand calls then holds about two days' buffers instead of 31.
//!
//! Nothing relies on that order. A row that comes for a day already finished starts a second
//! file for that day, and from then on no day of the span is finished early. When the span
//! is read, a day's files, if there are several, are merged into one
//! ([`crate::writer::merge`]), so that a day is still one partition replaced whole. Each day
//! keeps its records' identities for the whole span: a row is kept once, in whichever file.

use std::borrow::Cow;
use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::task::JoinHandle;

use super::page::Seen;
use super::BATCH_ROWS;
use crate::batch::{AppendRow, BatchBuilder, SpentBatches};
use crate::domain::Resource;
use crate::pseudonym::PseudonymKey;
use crate::store::Store;
use crate::writer::{self, BackgroundWriter, WriteError, WrittenFile};

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
    /// The first and last day the page being taken has put rows in.
    page: Option<(usize, usize)>,
    /// Whether no row has come for a day after its file was finished: the pages keep to an
    /// order of days, and the days they have passed are done.
    in_order: bool,
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
            page: None,
            in_order: true,
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

    /// After a page: finishes the days it has passed, hands full batches to their writers and
    /// returns the first error of a day finished before.
    pub(super) async fn page_done(&mut self, batch_rows: usize) -> Result<(), WriteError> {
        self.finish_passed();
        self.write_full(batch_rows).await?;
        self.check_finished().await
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

    /// After a page: starts finishing, each in a task of its own, the file of every day with
    /// rows outside the first and last day of that page's rows, as long as the pages have kept
    /// to an order of days. A page without rows in the span passes no day.
    fn finish_passed(&mut self) {
        let Some((first, last)) = self.page.take() else {
            return;
        };
        if !self.in_order {
            return;
        }
        let (before, rest) = self.days.split_at_mut(first);
        let after = &mut rest[last - first + 1..];
        // A day is finished early once at most (a row after that stops early finishing).
        for day in before.iter_mut().chain(after).filter(|d| d.early.is_none()) {
            if let Some(rows) = day.rows.take() {
                let path = rows.writer.path().to_owned();
                let (store, spent, resource) =
                    (self.store.clone(), self.spent.cloned(), self.resource);
                let task = tokio::spawn(async move {
                    let keep = |batch| {
                        if let Some(spent) = &spent {
                            spent.put(resource, batch);
                        }
                    };
                    rows.finish(&store, &keep).await
                });
                day.early = Some(Early::Finishing(path, task));
            }
        }
    }

    /// Takes the files finished early whose tasks are done, and returns the first error
    /// among them, so that a span whose disk is full stops at its next page instead of
    /// reading to its end.
    async fn check_finished(&mut self) -> Result<(), WriteError> {
        for day in &mut self.days {
            if let Some(early) = &mut day.early {
                early.take_if_done(self.store).await?;
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
        self.page = Some(self.page.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
        let rows = match &mut day.rows {
            Some(rows) => rows,
            slot @ None => {
                if day.early.is_some() {
                    // A row of a day whose file was finished: the pages are not in order of days.
                    self.in_order = false;
                }
                let rows =
                    DayRows::new(self.resource, self.pseudonym, self.spent, self.store, room);
                day.schema.get_or_insert_with(|| rows.builder.schema());
                slot.insert(rows)
            }
        };
        rows.builder.push(rec);
    }

    /// Stops writing every day and removes their files.
    pub(super) async fn abandon(self) {
        for day in self.days {
            day.abandon(self.store).await;
        }
    }
}

/// A day's file finished while the span is read (at most one: a row for the day after it
/// stops early finishing for the span).
enum Early {
    /// Being finished in a task of its own, at this path.
    Finishing(PathBuf, JoinHandle<Result<Option<WrittenFile>, WriteError>>),
    /// Finished (`None` if it had no rows after all).
    Done(Option<WrittenFile>),
}

impl Early {
    /// The file, once finished. A task that failed removed its file; one that panicked or
    /// was cancelled has it removed here.
    async fn file(self, store: &Store) -> Result<Option<WrittenFile>, WriteError> {
        let (path, task) = match self {
            Early::Finishing(path, task) => (path, task),
            Early::Done(file) => return Ok(file),
        };
        match task.await {
            Ok(finished) => finished,
            Err(e) => {
                store.discard(&path).await;
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
                Err(WriteError::Interrupted { path })
            }
        }
    }

    /// Becomes [`Early::Done`] if its task has ended; its error is returned.
    async fn take_if_done(&mut self, store: &Store) -> Result<(), WriteError> {
        if let Early::Finishing(_, task) = self {
            if task.is_finished() {
                let ended = std::mem::replace(self, Early::Done(None));
                *self = Early::Done(ended.file(store).await?);
            }
        }
        Ok(())
    }
}

/// One day of a span being read: its rows once it has any, the records it kept once, and
/// its files finished while the span is read.
#[derive(Default)]
pub(super) struct DayPart {
    pub(super) rows: Option<DayRows>,
    pub(super) seen: Seen,
    pub(super) duplicates: u64,
    early: Option<Early>,
    /// The schema of its files, once it has rows.
    schema: Option<SchemaRef>,
}

impl DayPart {
    /// The day's one staged file (`None` for a day without rows): its rows' file, finished
    /// now, or its files merged into one if it has several. Its batches, and its builder's
    /// buffers, go to `keep`. On an error, none of its files is left.
    pub(super) async fn finish(
        self,
        store: &Store,
        keep: &impl Fn(RecordBatch),
    ) -> Result<Option<WrittenFile>, WriteError> {
        let mut files = Vec::new();
        let mut failed = None;
        if let Some(early) = self.early {
            match early.file(store).await {
                Ok(file) => files.extend(file),
                Err(e) => failed = Some(e),
            }
        }
        match (self.rows, &failed) {
            (Some(rows), None) => match rows.finish(store, keep).await {
                Ok(file) => files.extend(file),
                Err(e) => failed = Some(e),
            },
            (Some(rows), Some(_)) => rows.abandon(store).await,
            (None, _) => {}
        }
        if let Some(e) = failed {
            for file in &files {
                store.discard(&file.path).await;
            }
            return Err(e);
        }
        if files.len() < 2 {
            return Ok(files.pop());
        }
        let schema = self.schema.expect("a day with files has had rows");
        merged(files, store, schema).await.map(Some)
    }

    /// Stops writing the day and removes its files.
    pub(super) async fn abandon(self, store: &Store) {
        if let Some(rows) = self.rows {
            rows.abandon(store).await;
        }
        if let Some(early) = self.early {
            if let Ok(Some(file)) = early.file(store).await {
                store.discard(&file.path).await;
            }
        }
    }
}

/// `files`, the parts of one day in the order they were written, merged into one new staged
/// file; the parts are removed.
async fn merged(
    files: Vec<WrittenFile>,
    store: &Store,
    schema: SchemaRef,
) -> Result<WrittenFile, WriteError> {
    let parts: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
    tracing::debug!(
        parts = parts.len(),
        "A day's rows came out of order; merging its files"
    );
    let (path, mode) = (store.staging_path(), store.staging_mode());
    let task = {
        let (parts, path) = (parts.clone(), path.clone());
        tokio::task::spawn_blocking(move || writer::merge(&parts, &path, mode, schema))
    };
    let result = writer::joined(task, &path).await;
    for part in &parts {
        store.discard(part).await;
    }
    result
}

/// The rows of a day and their staged file.
pub(super) struct DayRows {
    pub(super) builder: BatchBuilder,
    pub(super) writer: BackgroundWriter,
}

impl DayRows {
    /// A day's builder, started in a batch kept in `spent` if there is one, else with room
    /// for `room` rows, and its staged file, made when the first batch comes.
    fn new(
        resource: Resource,
        pseudonym: Option<&PseudonymKey>,
        spent: Option<&SpentBatches>,
        store: &Store,
        room: usize,
    ) -> Self {
        let kept = spent.and_then(|s| s.take(resource));
        // Buffers are made for `room` rows only when no kept batch gives its own.
        let room = if kept.is_some() { 0 } else { room };
        let mut builder = BatchBuilder::pseudonymized_with_capacity(resource, pseudonym, room);
        if let Some(batch) = kept {
            builder.restart_in(batch);
        }
        let writer =
            BackgroundWriter::new(store.staging_path(), store.staging_mode(), builder.schema());
        Self { builder, writer }
    }

    /// Writes the rows not yet written as the file's last batch and finishes the file
    /// (`None` if it never had rows), giving every batch written, and the builder's buffers,
    /// to `keep`. On an error the partial file is removed.
    async fn finish(
        self,
        store: &Store,
        keep: &impl Fn(RecordBatch),
    ) -> Result<Option<WrittenFile>, WriteError> {
        let path = self.writer.path().to_owned();
        let result = self.write_rest_and_finish(keep).await;
        if result.is_err() {
            store.discard(&path).await;
        }
        result
    }

    async fn write_rest_and_finish(
        mut self,
        keep: &impl Fn(RecordBatch),
    ) -> Result<Option<WrittenFile>, WriteError> {
        if !self.builder.is_empty() {
            let written = self.writer.write_last(self.builder.finish_last()).await?;
            written.map(keep);
        }
        // The builder, emptied, may still hold the buffers it restarted in: they go too.
        keep(self.builder.finish_last());
        let finished = self.writer.finish().await?;
        Ok(finished.map(|(file, batch)| {
            keep(batch);
            file
        }))
    }

    /// Stops writing (once the batch in progress is written) and removes the partial file.
    async fn abandon(self, store: &Store) {
        if let Some(path) = self.writer.abandon().await {
            store.discard(&path).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::page::{PageEnd, PageRules};
    use super::super::source::UsageSource;
    use super::super::WindowReport;
    use super::*;
    use crate::decode::value::days_since_epoch;
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
        for day in days.days {
            files.push(day.finish(&store, &drop).await.unwrap().map(|f| f.rows));
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
            let day = page_of_usage_records(&store, &spent).days.remove(0);
            let last = std::cell::RefCell::new(None);
            let keep = |b| *last.borrow_mut() = Some(b);
            day.finish(&store, &keep).await.unwrap().unwrap();
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
            let day = days.days.into_iter().next().unwrap();
            day.finish(&store, &keep).await.unwrap().unwrap();
        }
        // A day whose rows make a full batch takes both: one to build in, one to go on in
        // once the first is handed to its writer.
        let mut days = read();
        days.write_full(1).await.unwrap();
        let day = days.days.remove(0);
        day.finish(&store, &keep).await.unwrap().unwrap();
        let given_back = std::iter::from_fn(|| spent.take(Resource::UsageRecords)).count();
        assert_eq!(given_back, 2, "a day gives back as many batches as it took");
    }

    /// A page of usage records of `ACCOUNT`, each a (day, category) of March 2026.
    fn usage_page(records: &[(u8, &str)]) -> String {
        let records: Vec<String> = (records.iter())
            .map(|(day, category)| {
                format!(
                    r#"{{"account_sid":"{ACCOUNT}","category":"{category}","start_date":"2026-03-0{day}"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"usage_records":[{}],"next_page_uri":null}}"#,
            records.join(",")
        )
    }

    /// Takes each page into `days`, a span from 2026-03-01, as `read_pages` does.
    async fn take_pages(days: &mut SpanDays<'_>, pages: &[&[(u8, &str)]]) {
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let rules = rules_from_march_1(&account, 1000);
        for page in pages {
            let body = usage_page(page);
            let end =
                rules.take::<UsageSource>(body.as_bytes(), days, &mut WindowReport::default());
            assert!(matches!(end, Ok(PageEnd::Next(None, _))));
            days.page_done(days.batch_rows()).await.unwrap();
        }
    }

    /// The categories of the Parquet file at `path`, in order.
    fn categories(path: &std::path::Path) -> Vec<String> {
        use arrow::array::{Array, StringArray};
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name("category").unwrap();
            let column = column.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend((0..column.len()).map(|i| column.value(i).to_owned()));
        }
        out
    }

    fn staged_files(store: &Store) -> usize {
        std::fs::read_dir(store.staging_dir()).unwrap().count()
    }

    #[tokio::test]
    async fn a_day_the_pages_have_passed_is_finished_while_the_span_is_read() {
        let (_dir, store) = staging();
        let mut days = SpanDays::new(Resource::UsageRecords, 3, &store, None);
        // Newest first, as Twilio lists calls: March 3, then 3 and 2, then 2, then 1.
        take_pages(&mut days, &[&[(3, "a"), (3, "b")], &[(3, "c"), (2, "d")]]).await;
        assert!(days.days[2].early.is_none(), "March 3 is on the last page");
        take_pages(&mut days, &[&[(2, "e")]]).await;
        assert!(
            days.days[2].rows.is_none(),
            "March 3 is passed: its builder is gone"
        );
        assert!(days.days[2].early.is_some(), "and its file is finished");
        assert!(days.days[1].rows.is_some(), "March 2 is on the last page");
        take_pages(&mut days, &[&[(1, "f")]]).await;
        assert!(days.days[1].early.is_some());

        let mut files = Vec::new();
        for day in days.days {
            let file = day.finish(&store, &drop).await.unwrap().unwrap();
            files.push(categories(&file.path));
        }
        assert_eq!(files, [vec!["f"], vec!["d", "e"], vec!["a", "b", "c"]]);
        assert_eq!(staged_files(&store), 3, "a file a day");
    }

    #[tokio::test]
    async fn a_row_for_a_finished_day_goes_to_a_second_file_and_the_day_is_one_file_after_all() {
        let (_dir, store) = staging();
        // Under pseudonymization: the merged file keeps the key's fingerprint.
        let key = crate::pseudonym::PseudonymKey::new(&[7; 32]).unwrap();
        let mut days = SpanDays::new(Resource::UsageRecords, 3, &store, Some(&key));
        take_pages(&mut days, &[&[(3, "a"), (3, "b")], &[(2, "c")]]).await;
        assert!(days.days[2].early.is_some(), "March 3 was passed");
        // Out of order: March 3 again (and one of its records again), with March 2.
        take_pages(&mut days, &[&[(3, "a"), (3, "d"), (2, "e")]]).await;
        assert!(
            days.days[2].rows.is_some(),
            "March 3 has rows again, in a second file"
        );
        take_pages(&mut days, &[&[(1, "f")]]).await;
        assert!(
            days.days[1].early.is_none() && days.days[2].rows.is_some(),
            "once out of order, no day is finished before the span ends"
        );
        assert_eq!(days.days[2].duplicates, 1);

        let schema = BatchBuilder::pseudonymized(Resource::UsageRecords, Some(&key)).schema();
        assert!(schema
            .metadata()
            .contains_key(crate::batch::PSEUDONYM_KEY_METADATA));
        let mut files = Vec::new();
        for day in days.days {
            let file = day.finish(&store, &drop).await.unwrap().unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(&file.path).unwrap(),
            )
            .unwrap();
            assert_eq!(reader.schema(), &schema);
            assert_eq!(file.rows as usize, categories(&file.path).len());
            files.push(categories(&file.path));
        }
        assert_eq!(files, [vec!["f"], vec!["c", "e"], vec!["a", "b", "d"]]);
        assert_eq!(
            staged_files(&store),
            3,
            "the parts of March 3 are removed once merged"
        );
    }

    #[tokio::test]
    async fn an_abandoned_span_leaves_no_file_of_the_days_finished_early() {
        let (_dir, store) = staging();
        let mut days = SpanDays::new(Resource::UsageRecords, 3, &store, None);
        take_pages(&mut days, &[&[(3, "a")], &[(2, "b")], &[(1, "c")]]).await;
        assert!(days.days[2].early.is_some());
        days.abandon().await;
        assert_eq!(staged_files(&store), 0);
    }

    #[tokio::test]
    async fn a_day_finished_early_that_fails_stops_the_span_before_its_end() {
        let (_dir, store) = staging();
        let mut days = SpanDays::new(Resource::UsageRecords, 3, &store, None);
        take_pages(&mut days, &[&[(3, "a")]]).await;
        // March 3's file is made when it is finished (no batch of it was full): it cannot be.
        std::fs::remove_dir(store.staging_dir()).unwrap();
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let body = usage_page(&[(2, "b")]);
        let rules = rules_from_march_1(&account, 1000);
        let end =
            rules.take::<UsageSource>(body.as_bytes(), &mut days, &mut WindowReport::default());
        assert!(matches!(end, Ok(PageEnd::Next(None, _))));
        days.finish_passed();
        let mut checks = 0;
        let err = loop {
            match days.check_finished().await {
                Err(e) => break e,
                Ok(()) => tokio::task::yield_now().await,
            }
            checks += 1;
            assert!(checks < 1_000_000, "the failed task's error never came");
        };
        assert!(matches!(err, WriteError::Create { .. }), "{err}");
        assert!(
            days.days[2].early.is_some(),
            "the failed day is taken as done"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever order a span's records come in (newest first, then some swapped), with
        /// some records repeated, each day's one file holds exactly that day's records, once
        /// each, and nothing else is left in staging.
        #[test]
        fn in_any_order_each_day_is_one_file_of_exactly_its_records(
            day_of in proptest::collection::vec(1u8..6, 1..120),
            swaps in proptest::collection::vec((0usize..120, 0usize..120), 0..12),
            repeats in proptest::collection::vec(0usize..120, 0..4),
            page in 1usize..40,
        ) {
            let mut order: Vec<usize> = (0..day_of.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(day_of[i]));
            let n = order.len();
            for (a, b) in &swaps {
                order.swap(a % n, b % n);
            }
            for r in &repeats {
                order.insert(r % n, order[(r * 7) % n]);
            }
            let records: Vec<(u8, String)> =
                order.iter().map(|&i| (day_of[i], format!("c{i}"))).collect();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (_dir, store) = staging();
                let mut days = SpanDays::new(Resource::UsageRecords, 5, &store, None);
                let pages: Vec<Vec<(u8, &str)>> = (records.chunks(page))
                    .map(|c| c.iter().map(|(d, c)| (*d, c.as_str())).collect())
                    .collect();
                let pages: Vec<&[(u8, &str)]> = pages.iter().map(Vec::as_slice).collect();
                take_pages(&mut days, &pages).await;
                let duplicates: u64 = days.days.iter().map(|d| d.duplicates).sum();
                assert_eq!(duplicates, repeats.len() as u64);
                let mut files = 0;
                for (d, day) in days.days.into_iter().enumerate() {
                    let mut want: Vec<String> = (0..day_of.len())
                        .filter(|&i| usize::from(day_of[i]) == d + 1)
                        .map(|i| format!("c{i}"))
                        .collect();
                    let got = match day.finish(&store, &drop).await.unwrap() {
                        Some(file) => {
                            files += 1;
                            categories(&file.path)
                        }
                        None => Vec::new(),
                    };
                    let mut got = got;
                    got.sort();
                    want.sort();
                    assert_eq!(got, want, "March {}", d + 1);
                }
                assert_eq!(staged_files(&store), files, "one file a day with records");
            });
        }
    }
}
