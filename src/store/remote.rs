//! Object stores: opening one from a URL, the probe that proves it writable, and uploads.
//!
//! A staged file of at most [`SINGLE_PUT_MAX`] bytes is uploaded with one PUT: the object
//! appears whole or not at all, and a process killed mid-upload leaves nothing behind. A
//! larger file is uploaded in parts; a failed multipart upload is aborted. One that a killed
//! process leaves incomplete is invisible to readers, but `object_store` 0.12 offers no way to
//! list incomplete uploads (its `MultipartStore` aborts an upload only by an id that died with
//! the process), so they stay until the store's own rule removes them: an S3 or GCS lifecycle
//! rule (`AbortIncompleteMultipartUpload`), Azure's discarding of uncommitted blocks after a week.

use std::path::Path;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;
use url::Url;

/// Files up to this size are uploaded in one request (and held in memory while they are).
pub const SINGLE_PUT_MAX: u64 = 32 << 20;
/// Bytes read from the staged file per part of a multipart upload.
const PART_BYTES: usize = 8 << 20;

/// The `object_store` client for an `s3://`, `gs://` or Azure URL, configured from the
/// environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
pub fn open(url: &Url) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    Ok(match url.scheme() {
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        // The configuration admits only the schemes above and Azure's.
        _ => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
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

/// Uploads the staged file to `path`, replacing what was there.
pub async fn upload(
    store: &dyn ObjectStore,
    staged: &Path,
    path: &ObjectPath,
) -> object_store::Result<()> {
    let mut file = tokio::fs::File::open(staged).await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    if size <= SINGLE_PUT_MAX {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await.map_err(io)?;
        store.put(path, PutPayload::from(bytes)).await?;
        return Ok(());
    }
    let mut writer = WriteMultipart::new(store.put_multipart(path).await?);
    match write_parts(&mut file, &mut writer).await {
        Ok(()) => writer.finish().await.map(|_| ()),
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

async fn write_parts(
    file: &mut tokio::fs::File,
    writer: &mut WriteMultipart,
) -> object_store::Result<()> {
    let mut buf = vec![0u8; PART_BYTES];
    loop {
        let n = file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            return Ok(());
        }
        writer.wait_for_capacity(4).await?;
        writer.write(&buf[..n]);
    }
}

fn io(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "staging",
        source: Box::new(e),
    }
}
