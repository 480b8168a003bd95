//! Object stores: opening one from a URL, the probe that proves it writable, and uploads.
//!
//! A staged file of at most [`SINGLE_PUT_MAX`] bytes is uploaded with one PUT: the object
//! appears whole or not at all, and a process killed mid-upload leaves nothing behind. A
//! larger file is uploaded in parts, and the upload is journaled first: a file in the private
//! staging directory holding the upload's id and path, removed once the upload is completed
//! or aborted. `object_store` 0.12 cannot list incomplete uploads (its `MultipartStore`
//! aborts one only by id), so the journal is how a later run on the same host and staging
//! directory finds the uploads of a killed process and aborts them. An upload whose journal is
//! gone with its machine (a new container, another `TMPDIR`) stays, invisible to readers,
//! until the store's own rule removes it: an S3 or GCS lifecycle rule
//! (`AbortIncompleteMultipartUpload`), Azure's discarding of uncommitted blocks after a week.

use std::path::Path;
use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// Files up to this size are uploaded in one request (and held in memory while they are).
pub const SINGLE_PUT_MAX: u64 = 32 << 20;
/// Bytes per part of a multipart upload (S3 and GCS want at least 5 MiB but for the last).
const PART_BYTES: usize = 8 << 20;

/// One object store, seen both ways: objects, and multipart uploads by id.
#[derive(Clone)]
pub struct Remote {
    pub objects: Arc<dyn ObjectStore>,
    pub parts: Arc<dyn MultipartStore>,
}

impl Remote {
    pub fn new<S: ObjectStore + MultipartStore>(store: Arc<S>) -> Self {
        Remote {
            objects: store.clone(),
            parts: store,
        }
    }
}

/// The `object_store` client for an `s3://`, `gs://` or Azure URL, configured from the
/// environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
pub fn open(url: &Url) -> Result<Remote, object_store::Error> {
    Ok(match url.scheme() {
        "s3" | "s3a" => Remote::new(Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()?,
        )),
        "gs" => Remote::new(Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        )),
        // The configuration admits only the schemes above and Azure's.
        _ => Remote::new(Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        )),
    })
}

/// Writes and deletes a marker object under `prefix`: the credentials, the bucket and the
/// permissions all work. The marker's name starts with `_`, which dataset readers skip.
pub async fn probe(store: &dyn ObjectStore, prefix: &ObjectPath) -> object_store::Result<()> {
    let marker = prefix.child(format!(
        "_twilio-export-probe-{}",
        uuid::Uuid::new_v4().simple()
    ));
    store
        .put(&marker, PutPayload::from_static(b"probe"))
        .await?;
    match store.delete(&marker).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Uploads the staged file to `path`, replacing what was there; a multipart upload is
/// journaled in `journals` while it is open.
pub async fn upload(
    remote: &Remote,
    staged: &Path,
    path: &ObjectPath,
    journals: &Path,
) -> object_store::Result<()> {
    let mut file = tokio::fs::File::open(staged).await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    if size <= SINGLE_PUT_MAX {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await.map_err(io)?;
        remote.objects.put(path, PutPayload::from(bytes)).await?;
        return Ok(());
    }
    upload_parts(remote.parts.as_ref(), &mut file, path, journals).await
}

/// A multipart upload of `file`, journaled, completed, or aborted if any part fails.
pub(super) async fn upload_parts(
    parts: &dyn MultipartStore,
    file: &mut tokio::fs::File,
    path: &ObjectPath,
    journals: &Path,
) -> object_store::Result<()> {
    let id = parts.create_multipart(path).await?;
    let journal = journals.join(super::staging::journal_name());
    if let Err(e) = write_journal(&journal, path, &id).await {
        let _ = parts.abort_multipart(path, &id).await;
        return Err(io(e));
    }
    let result = match put_parts(parts, file, path, &id).await {
        Ok(ids) => parts.complete_multipart(path, &id, ids).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = parts.abort_multipart(path, &id).await;
    }
    let _ = tokio::fs::remove_file(&journal).await;
    result
}

async fn put_parts(
    parts: &dyn MultipartStore,
    file: &mut tokio::fs::File,
    path: &ObjectPath,
    id: &str,
) -> object_store::Result<Vec<PartId>> {
    let mut done = Vec::new();
    loop {
        let mut buf = Vec::with_capacity(PART_BYTES);
        (&mut *file)
            .take(PART_BYTES as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(io)?;
        if buf.is_empty() {
            return Ok(done);
        }
        let part = parts
            .put_part(path, &id.to_owned(), done.len(), PutPayload::from(buf))
            .await?;
        done.push(part);
    }
}

/// `{id}\n{path}\n`, in a file of mode 0600, synced.
async fn write_journal(journal: &Path, path: &ObjectPath, id: &str) -> std::io::Result<()> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(super::staging::PRIVATE_FILE_MODE)
        .open(journal)
        .await?;
    file.write_all(format!("{id}\n{path}\n").as_bytes()).await?;
    file.sync_all().await
}

/// Aborts the upload a journal left by a killed process names, then removes the journal.
/// A journal that cannot be read is removed; one whose abort failed is kept for next time.
pub async fn abort_journaled(parts: &dyn MultipartStore, journal: &Path) {
    let Ok(text) = tokio::fs::read_to_string(journal).await else {
        return;
    };
    let mut lines = text.lines();
    if let (Some(id), Some(Ok(path))) = (lines.next(), lines.next().map(ObjectPath::parse)) {
        match parts.abort_multipart(&path, &id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                tracing::info!(%path, "Aborted an upload a killed process left incomplete");
            }
            Err(e) => {
                tracing::warn!(%path, error = %e, "Cannot abort an upload a killed process left incomplete");
                return;
            }
        }
    }
    let _ = tokio::fs::remove_file(journal).await;
}

fn io(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "staging",
        source: Box::new(e),
    }
}
