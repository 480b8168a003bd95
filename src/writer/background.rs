//! [`BackgroundWriter`]: a [`PartWriter`] driven from async code. Creating the file, encoding
//! each batch to Parquet, writing it and the final sync all run on tokio's blocking pool, so an
//! async worker thread never waits on the disk or on ZSTD, and a window goes on fetching its
//! next page while its previous batch is being written.
//!
//! At most one batch is being written at a time per file: [`BackgroundWriter::write`] waits
//! for the previous one first, so memory stays bounded by one batch in the builder plus one
//! being encoded, whatever the partition's size.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::task::JoinHandle;

use super::{PartWriter, WriteError, WrittenFile};

/// Writes one staged file off the async threads.
pub struct BackgroundWriter {
    path: PathBuf,
    mode: u32,
    schema: SchemaRef,
    /// The writer between batches; `None` before the first batch and while one is written.
    idle: Option<PartWriter>,
    /// The batch being written, which hands the writer back.
    busy: Option<JoinHandle<Result<PartWriter, WriteError>>>,
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
            idle: None,
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
        let writer = self.settle().await?;
        let (path, mode, schema) = (self.path.clone(), self.mode, self.schema.clone());
        self.started = true;
        self.busy = Some(tokio::task::spawn_blocking(move || {
            let mut writer = match writer {
                Some(w) => w,
                None => PartWriter::create(&path, mode, schema)?,
            };
            writer.write(&batch)?;
            Ok(writer)
        }));
        Ok(())
    }

    /// Waits for the batch being written, if any, and takes the writer.
    async fn settle(&mut self) -> Result<Option<PartWriter>, WriteError> {
        match self.busy.take() {
            Some(task) => joined(task, &self.path).await.map(Some),
            None => Ok(self.idle.take()),
        }
    }

    /// Writes the footer and syncs the file (`None` if no batch was written).
    pub async fn finish(mut self) -> Result<Option<WrittenFile>, WriteError> {
        let Some(writer) = self.settle().await? else {
            return Ok(None);
        };
        let task = tokio::task::spawn_blocking(move || writer.finish());
        joined(task, &self.path).await.map(Some)
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

/// The result of a blocking task; a panic in it is resumed here.
async fn joined<T>(task: JoinHandle<Result<T, WriteError>>, path: &Path) -> Result<T, WriteError> {
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
