//! The output location: a local directory or an object store (S3, GCS, Azure through
//! `object_store`). The only module that touches output locations.
//!
//! Files are written at a staging path first and then published under their final,
//! deterministic key in one atomic step: a rename on a local disk (staging lives in
//! `{root}/_staging/`, on the same file system, and its names end in `.tmp`, so dataset
//! readers skip it), a single upload on an object store (an object appears whole or not at
//! all). Readers therefore never see a half-written file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::config::OutputLocation;

const STAGING_DIR: &str = "_staging";
/// Staging files older than this are leftovers of a crash and are removed.
const STALE_STAGING: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("output {location} is not writable: {cause}")]
    Unwritable {
        location: String,
        cause: std::io::Error,
    },
    #[error("cannot publish {location}: {cause}")]
    Publish {
        location: String,
        cause: std::io::Error,
    },
    #[error("cannot open output {location}: {cause}")]
    Open {
        location: String,
        cause: object_store::Error,
    },
    #[error("object store error at {location}: {cause}")]
    Remote {
        location: String,
        cause: object_store::Error,
    },
}

/// Where finished files go.
#[derive(Clone)]
pub enum Store {
    Local {
        root: PathBuf,
    },
    Remote {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        url: String,
    },
}

impl Store {
    /// Opens the location; no I/O yet (see [`Store::check`]).
    pub fn open(location: &OutputLocation) -> Result<Self, StoreError> {
        match location {
            OutputLocation::Local(root) => Ok(Store::Local { root: root.clone() }),
            OutputLocation::Remote(url) => {
                let open = |source| StoreError::Open {
                    location: url.to_string(),
                    cause: source,
                };
                let store: Arc<dyn ObjectStore> = match url.scheme() {
                    "s3" | "s3a" => Arc::new(
                        object_store::aws::AmazonS3Builder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(open)?,
                    ),
                    "gs" => Arc::new(
                        object_store::gcp::GoogleCloudStorageBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(open)?,
                    ),
                    _ => Arc::new(
                        object_store::azure::MicrosoftAzureBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(open)?,
                    ),
                };
                let prefix = ObjectPath::from(url.path().trim_matches('/'));
                Ok(Store::Remote {
                    store,
                    prefix,
                    url: url.to_string(),
                })
            }
        }
    }

    /// The full location of a key, for messages and for the user.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Store::Local { root } => root.join(key).display().to_string(),
            Store::Remote { url, .. } => format!("{}/{key}", url.trim_end_matches('/')),
        }
    }

    fn staging_dir(&self) -> PathBuf {
        match self {
            Store::Local { root } => root.join(STAGING_DIR),
            Store::Remote { .. } => std::env::temp_dir().join("twilio-export-staging"),
        }
    }

    /// Makes sure files can be staged (and, locally, published), and clears stale leftovers.
    pub async fn check(&self) -> Result<(), StoreError> {
        let dir = self.staging_dir();
        let unwritable = |source| StoreError::Unwritable {
            location: dir.display().to_string(),
            cause: source,
        };
        tokio::fs::create_dir_all(&dir).await.map_err(unwritable)?;
        let probe = dir.join(format!("probe-{}.tmp", uuid::Uuid::new_v4()));
        tokio::fs::write(&probe, b"probe")
            .await
            .map_err(unwritable)?;
        tokio::fs::remove_file(&probe).await.map_err(unwritable)?;
        self.clean_staging(STALE_STAGING).await;
        Ok(())
    }

    /// Removes staging files left by a crash: those of a process of this host that is gone,
    /// and any older than `age` (another host's, or where processes cannot be seen). Best effort.
    pub async fn clean_staging(&self, age: Duration) {
        let Ok(mut entries) = tokio::fs::read_dir(self.staging_dir()).await else {
            return;
        };
        let host = host_name();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".tmp") {
                continue;
            }
            let orphan =
                staging_owner(&name).is_some_and(|(h, pid)| h == host && !process_alive(pid));
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|d| d >= age);
            if orphan || old {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }

    /// A fresh staging path for one file, named after this host and process so that a later
    /// run can tell a crashed writer's leftovers from a live one's work.
    pub fn staging_path(&self) -> PathBuf {
        self.staging_dir().join(format!(
            "{}.{}.{}.parquet.tmp",
            host_name(),
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Publishes a finished staging file under `key`, replacing what was there, and removes
    /// the staging file.
    pub async fn publish(&self, staged: &Path, key: &str) -> Result<(), StoreError> {
        match self {
            Store::Local { root } => {
                let target = root.join(key);
                let failed = |source| StoreError::Publish {
                    location: target.display().to_string(),
                    cause: source,
                };
                let parent = target.parent().expect("keys have a directory");
                tokio::fs::create_dir_all(parent).await.map_err(failed)?;
                tokio::fs::rename(staged, &target).await.map_err(failed)?;
                // The rename is durable only once the directory entry is synced.
                let dir = tokio::fs::File::open(parent).await.map_err(failed)?;
                dir.sync_all().await.map_err(failed)?;
                Ok(())
            }
            Store::Remote { store, prefix, .. } => {
                let path = remote_path(prefix, key);
                let result = upload(store.as_ref(), staged, &path).await;
                let _ = tokio::fs::remove_file(staged).await;
                result.map_err(|source| StoreError::Remote {
                    location: self.describe(key),
                    cause: source,
                })
            }
        }
    }

    /// Deletes `key` if it exists (a partition that has become empty).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Store::Local { root } => {
                let target = root.join(key);
                match tokio::fs::remove_file(&target).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(StoreError::Publish {
                            location: target.display().to_string(),
                            cause: e,
                        })
                    }
                    _ => Ok(()),
                }
            }
            Store::Remote { store, prefix, .. } => {
                match store.delete(&remote_path(prefix, key)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(source) => Err(StoreError::Remote {
                        location: self.describe(key),
                        cause: source,
                    }),
                }
            }
        }
    }

    /// Removes a staging file that will not be published. Best effort.
    pub async fn discard(&self, staged: &Path) {
        let _ = tokio::fs::remove_file(staged).await;
    }
}

/// This host's name, made safe for a file name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_else(|_| "localhost".to_owned())
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The host and process id a staging name carries (`host.pid.uuid.parquet.tmp`).
fn staging_owner(name: &str) -> Option<(&str, u32)> {
    let mut parts = name.split('.');
    let host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    Some((host, pid))
}

/// Whether a process of this host is running (only Linux can tell; elsewhere assume it is).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

fn remote_path(prefix: &ObjectPath, key: &str) -> ObjectPath {
    key.split('/').fold(prefix.clone(), |p, part| p.child(part))
}

async fn upload(
    store: &dyn ObjectStore,
    staged: &Path,
    path: &ObjectPath,
) -> Result<(), object_store::Error> {
    let io = |e: std::io::Error| object_store::Error::Generic {
        store: "staging",
        source: Box::new(e),
    };
    let mut file = tokio::fs::File::open(staged).await.map_err(io)?;
    let upload = store.put_multipart(path).await?;
    let mut writer = WriteMultipart::new(upload);
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(4).await?;
        writer.write(&buf[..n]);
    }
    writer.finish().await?;
    Ok(())
}
