//! [`BackgroundWriter`]: a [`PartWriter`] driven from async code. Creating the file, encoding
//! each batch to Parquet, writing it and the final sync all run on tokio's blocking pool, so an
//! async worker thread never waits on the disk or on ZSTD, and a window goes on fetching its
//! next page while its previous batch is being written.
//!
//! At most one batch is being written at a time per file: [`BackgroundWriter::write`] waits
//! for the previous one first, so memory stays bounded by one batch in the builder plus one
//! being encoded, whatever the partition's size. [`BackgroundWriter::write_next`] hands the
//! written batch back, so that the next one can be built in its buffers.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::task::JoinHandle;

use super::{Codec, PartWriter, WriteError, WrittenFile};

/// Writes one staged file off the async threads.
pub struct BackgroundWriter {
    path: PathBuf,
    mode: u32,
    schema: SchemaRef,
    /// The batch being written, which hands the writer and the batch back (`None` before the
    /// first batch).
    busy: Option<JoinHandle<Result<(PartWriter, RecordBatch), WriteError>>>,
    /// Whether the file may exist (its creation was started).
    started: bool,
}

impl BackgroundWriter {
    /// A writer that creates `path` with `mode` when the first batch comes.
    pub fn new(path: PathBuf, mode: u32, schema: SchemaRef) -> Self {
        Self {
            path,
            mode,
            schema,
            busy: None,
            started: false,
        }
    }

    /// Whether no batch was ever handed over (no file exists).
    pub fn is_empty(&self) -> bool {
        !self.started
    }

    /// Hands `batch` over once the previous batch is written; returns without waiting for
    /// this one. An error of the previous batch is returned here.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), WriteError> {
        self.write_next(|_| batch).await
    }

    /// [`BackgroundWriter::write`] for the file's last batch: if it is also the first, the
    /// whole file, its codec is chosen from its size ([`Codec::for_whole_file`]). Hands back
    /// the batch written before it, if any, for another builder to take its buffers.
    pub async fn write_last(
        &mut self,
        batch: RecordBatch,
    ) -> Result<Option<RecordBatch>, WriteError> {
        let (writer, written) = self.settle().await?;
        let codec = match writer {
            Some(_) => Codec::Zstd,
            None => Codec::for_whole_file(&batch),
        };
        self.hand_over(writer, batch, codec);
        Ok(written)
    }

    /// Waits until the previous batch is written, then hands over the batch `next` makes,
    /// given the written one (`None` for the first) to take its buffers. A file created for
    /// it, which more batches may follow, is compressed with ZSTD.
    pub async fn write_next(
        &mut self,
        next: impl FnOnce(Option<RecordBatch>) -> RecordBatch,
    ) -> Result<(), WriteError> {
        let (writer, written) = self.settle().await?;
        let batch = next(written);
        self.hand_over(writer, batch, Codec::Zstd);
        Ok(())
    }

    /// Writes `batch` on the blocking pool with `writer`, or a file created with `codec`.
    fn hand_over(&mut self, writer: Option<PartWriter>, batch: RecordBatch, codec: Codec) {
        let (path, mode, schema) = (self.path.clone(), self.mode, self.schema.clone());
        self.started = true;
        self.busy = Some(tokio::task::spawn_blocking(move || {
            let mut writer = match writer {
                Some(w) => w,
                None => PartWriter::create(&path, mode, schema, codec)?,
            };
            writer.write(&batch)?;
            Ok((writer, batch))
        }));
    }

    /// Waits for the batch being written, if any, and takes the writer and that batch.
    async fn settle(&mut self) -> Result<(Option<PartWriter>, Option<RecordBatch>), WriteError> {
        match self.busy.take() {
            Some(task) => {
                let (writer, batch) = joined(task, &self.path).await?;
                Ok((Some(writer), Some(batch)))
            }
            None => Ok((None, None)),
        }
    }

    /// Writes the footer and syncs the file (`None` if no batch was written); hands back the
    /// last batch written, for another builder to take its buffers.
    pub async fn finish(mut self) -> Result<Option<(WrittenFile, RecordBatch)>, WriteError> {
        let (Some(writer), Some(spent)) = self.settle().await? else {
            return Ok(None);
        };
        let task = tokio::task::spawn_blocking(move || writer.finish());
        let file = joined(task, &self.path).await?;
        Ok(Some((file, spent)))
    }

    /// Stops writing: waits for the batch in progress and closes the file without finishing
    /// it. Returns the path of the partial file, if one may exist, for the caller to remove.
    pub async fn abandon(mut self) -> Option<PathBuf> {
        let _ = self.settle().await;
        self.started.then_some(self.path)
    }

    /// Where the file is written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The result of a task writing `path`; a panic in it is resumed here.
pub async fn joined<T>(
    task: JoinHandle<Result<T, WriteError>>,
    path: &Path,
) -> Result<T, WriteError> {
    match task.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(WriteError::Interrupted {
            path: path.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;
    use crate::domain::Resource;

    #[tokio::test]
    async fn nothing_written_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet.tmp");
        let schema = BatchBuilder::new(Resource::Calls).schema();
        let writer = BackgroundWriter::new(path.clone(), 0o600, schema);
        assert!(writer.is_empty());
        assert!(writer.finish().await.unwrap().is_none());
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn each_batch_is_handed_back_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet.tmp");
        let mut builder = BatchBuilder::new(Resource::UsageRecords);
        let mut writer = BackgroundWriter::new(path.clone(), 0o600, builder.schema());
        let first = builder.finish();
        let first_columns = first.columns().to_vec();
        writer
            .write_next(|written| {
                assert!(written.is_none(), "nothing was written before");
                first
            })
            .await
            .unwrap();
        let mut handed_back = None;
        writer
            .write_next(|written| {
                handed_back = written;
                builder.finish()
            })
            .await
            .unwrap();
        let handed_back = handed_back.expect("the first batch, written");
        assert!((handed_back.columns().iter().zip(&first_columns))
            .all(|(a, b)| std::sync::Arc::ptr_eq(a, b)));
        let (_, last) = writer.finish().await.unwrap().expect("a file");
        assert!(
            (last.columns().iter().zip(&first_columns)).all(|(a, b)| !std::sync::Arc::ptr_eq(a, b)),
            "the last batch written is handed back by finish"
        );
        assert_eq!(last.schema(), builder.schema());
    }

    /// The codec of the `sid` column of the file at `path`.
    fn codec_of(path: &Path) -> parquet::basic::Compression {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0).clone();
        let sid = (group.columns().iter())
            .find(|c| c.column_path().string() == "sid")
            .unwrap();
        sid.compression()
    }

    #[tokio::test]
    async fn a_small_file_written_in_one_last_batch_is_snappy_and_any_other_zstd() {
        use super::super::tests::calls_like_twilios;
        use parquet::basic::Compression;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        let schema = calls_like_twilios(1).schema();

        let mut whole = BackgroundWriter::new(file("small"), 0o600, schema.clone());
        whole.write_last(calls_like_twilios(3)).await.unwrap();
        whole.finish().await.unwrap();
        assert_eq!(codec_of(&file("small")), Compression::SNAPPY);

        let mut large = BackgroundWriter::new(file("large"), 0o600, schema.clone());
        large.write_last(calls_like_twilios(500)).await.unwrap();
        large.finish().await.unwrap();
        assert!(matches!(codec_of(&file("large")), Compression::ZSTD(_)));

        // A first batch may have others after it: its file is ZSTD, whatever its size.
        let mut first = BackgroundWriter::new(file("first"), 0o600, schema);
        first.write(calls_like_twilios(2)).await.unwrap();
        first.write_last(calls_like_twilios(2)).await.unwrap();
        assert_eq!(first.finish().await.unwrap().unwrap().0.rows, 4);
        assert!(matches!(codec_of(&file("first")), Compression::ZSTD(_)));
    }

    #[tokio::test]
    async fn a_failed_create_is_reported_by_the_next_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.parquet.tmp");
        let mut builder = BatchBuilder::new(Resource::UsageRecords);
        let mut writer = BackgroundWriter::new(path.clone(), 0o600, builder.schema());
        writer.write(builder.finish()).await.unwrap();
        assert!(matches!(
            writer.finish().await,
            Err(WriteError::Create { .. })
        ));
    }
}
