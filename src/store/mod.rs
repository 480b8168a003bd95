//! The output location: a local directory or an object store (S3, GCS, Azure through
//! `object_store`). The only module that touches output locations.
//!
//! Files are written at a staging path first and then published under their final,
//! deterministic key in one atomic step: a rename on a local disk (staging lives in
//! `{root}/_staging/`, on the same file system, and its names end in `.tmp`, so dataset
//! readers skip it), an upload on an object store (an object appears whole or not at all,
//! see `store::remote`). Readers therefore never see a half-written file. Where staging
//! lives and who may touch it is `store::staging`'s job.

mod erase;
mod local;
mod location;
mod outage;
mod remote;
mod staging;

use std::path::{Path, PathBuf};
use std::time::Duration;

use local::Synced;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

pub use erase::{account_dir, StoredFile};
pub use location::{LocationError, OutputLocation};
pub use remote::{Remote, SINGLE_PUT_MAX};
pub use staging::UnsafeDir;

const STAGING_DIR: &str = "_staging";
/// Staging files older than this are leftovers of a crash and are removed.
const STALE_STAGING: Duration = Duration::from_secs(6 * 3600);

/// What went wrong with the output location. Each message names the location and says why;
/// an `object_store` error may quote the URL it was given, which is redacted as any URL.
/// `Open`, `Unwritable`, `UnsafeStaging`, `ProbeFailed` and `OldPrefix` come from [`Store::open`] and
/// [`Store::check`], before a run exports anything: nothing is exported (a command exits 2).
/// `Publish` and `Remote` come during a window: that window fails and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The local output (or its staging directory) cannot be created or written.
    #[error("output {location} is not writable: {cause}")]
    Unwritable {
        location: String,
        cause: std::io::Error,
    },
    #[error(
        "staging directory {dir} cannot be used: {cause} (remove it, or set TMPDIR elsewhere)"
    )]
    /// The staging directory is not provably this user's own.
    UnsafeStaging { dir: String, cause: UnsafeDir },
    /// A finished file could not be moved under its final key.
    #[error("cannot publish {location}: {cause}")]
    Publish {
        location: String,
        cause: std::io::Error,
    },
    /// The object store URL cannot be opened (scheme, bucket, credentials in the environment).
    #[error("cannot open output {location}: {}", crate::redact::urls_in(&cause.to_string()))]
    Open {
        location: String,
        cause: object_store::Error,
    },
    /// The object store refused the marker object of the check.
    #[error("output {location} is not writable (a marker object could not be written and deleted): {}", crate::redact::urls_in(&cause.to_string()))]
    ProbeFailed {
        location: String,
        cause: object_store::Error,
    },
    /// An account's directory could not be listed (a purge or a retention deletion).
    #[error("cannot list {location}: {cause}")]
    List {
        location: String,
        cause: std::io::Error,
    },
    /// A partition's file could not be deleted (a purge or a retention deletion).
    #[error("cannot delete {location}: {cause}")]
    Delete {
        location: String,
        cause: std::io::Error,
    },
    /// Objects lie where versions before this one wrote this URL's files, which this one
    /// would not see: exporting beside them, or purging without them, would split the export.
    #[error("output {location}: objects lie under the prefix {old:?}, where earlier versions wrote this URL's files (its path encoded twice); this version reads and writes under {new:?}: move them there first")]
    OldPrefix {
        location: String,
        old: String,
        new: String,
    },
    /// An upload or a delete of a window's object failed.
    #[error("object store error at {location}: {}", crate::redact::urls_in(&cause.to_string()))]
    Remote {
        location: String,
        cause: object_store::Error,
    },
    /// Not tried: an upload or a delete of this run failed after waiting out the store's
    /// retries (`first`, reported with its cause in its own window), so the store is taken as
    /// down until the run ends. The next run tries again.
    #[error("{location} was not written: the store did not take {first} after {waited_secs} s of retries earlier in this run, so it is taken as down until the next run")]
    Down {
        location: String,
        first: String,
        waited_secs: u64,
    },
}

/// Where finished files go.
#[derive(Clone)]
pub enum Store {
    Local {
        root: PathBuf,
    },
    Remote {
        store: Remote,
        prefix: ObjectPath,
        /// Where versions before this one wrote the files of this URL, when that differs from
        /// `prefix` (a path with a space, `~`, `%` or a character beyond ASCII).
        old_prefix: Option<ObjectPath>,
        /// The URL without its query, its password hidden: what messages show.
        url: String,
        /// This user's private staging directory on the local disk.
        staging: PathBuf,
        /// Whether the store was found down in this run.
        outage: outage::Outage,
    },
}

impl Store {
    /// Opens the location; no I/O yet (see [`Store::check`]).
    pub fn open(location: &OutputLocation) -> Result<Self, StoreError> {
        match location {
            OutputLocation::Local(root) => Ok(Store::Local { root: root.clone() }),
            OutputLocation::Remote(url) => {
                let store = remote::open(url).map_err(|cause| StoreError::Open {
                    location: crate::redact::url(url.as_str()),
                    cause,
                })?;
                let staging = staging::private_dir_in(&std::env::temp_dir(), staging::own_uid());
                Self::remote(store, url, staging)
            }
        }
    }

    /// An object store at `url` (whose path, percent-decoded, is the prefix of every key),
    /// staging in `staging`.
    pub fn remote(store: Remote, url: &url::Url, staging: PathBuf) -> Result<Self, StoreError> {
        let prefix = location::object_prefix(url).ok_or_else(|| StoreError::Open {
            location: crate::redact::url(url.as_str()),
            cause: object_store::Error::Generic {
                store: "twilio-export",
                source: "the URL's path is no prefix of object names".into(),
            },
        })?;
        let old = location::prefix_of_old(url);
        Ok(Store::Remote {
            store,
            old_prefix: (old != prefix).then_some(old),
            prefix,
            url: location::shown_base(url),
            staging,
            outage: Default::default(),
        })
    }

    /// The full location of a key, for messages and for the user.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Store::Local { root } => root.join(key).display().to_string(),
            Store::Remote { url, .. } => format!("{url}/{key}"),
        }
    }

    /// Where files are staged before they are published.
    pub fn staging_dir(&self) -> PathBuf {
        match self {
            Store::Local { root } => root.join(STAGING_DIR),
            Store::Remote { staging, .. } => staging.clone(),
        }
    }

    /// Makes sure files can be staged and published, before any other work: prepares the
    /// staging directory, clears stale leftovers (first, so that a disk they filled has room
    /// again), then proves the location writable: a probe file locally, a marker object
    /// written and deleted on an object store.
    pub async fn check(&self) -> Result<(), StoreError> {
        let dir = self.staging_dir();
        let unwritable = |cause| StoreError::Unwritable {
            location: dir.display().to_string(),
            cause,
        };
        match self {
            Store::Local { .. } => {
                let staging = dir.clone();
                local::blocking(move || local::create_dir(&staging))
                    .await
                    .map_err(unwritable)?
            }
            Store::Remote { .. } => {
                let uid = staging::own_uid();
                staging::ensure_private_dir(&dir, uid).map_err(|cause| {
                    StoreError::UnsafeStaging {
                        dir: dir.display().to_string(),
                        cause,
                    }
                })?
            }
        }
        self.clean_staging(STALE_STAGING).await;
        let probe = dir.join(staging::probe_name());
        let written = tokio::fs::write(&probe, b"probe").await;
        let _ = tokio::fs::remove_file(&probe).await;
        written.map_err(unwritable)?;
        if let Store::Remote {
            store,
            prefix,
            old_prefix,
            url,
            ..
        } = self
        {
            remote::probe(store.objects.as_ref(), prefix)
                .await
                .map_err(|cause| StoreError::ProbeFailed {
                    location: url.clone(),
                    cause,
                })?;
            if let Some(old) = old_prefix {
                let mut found = store.objects.list(Some(old));
                if let Some(Ok(_)) = futures::StreamExt::next(&mut found).await {
                    return Err(StoreError::OldPrefix {
                        location: url.clone(),
                        old: old.to_string(),
                        new: prefix.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Removes staging files left by a crash: those of a process of this host that is
    /// provably gone, and any older than `age` (another host's or container's, or where
    /// processes cannot be seen); on an object store, also aborts the multipart uploads such
    /// a process journaled. Best effort.
    pub async fn clean_staging(&self, age: Duration) {
        let dir = self.staging_dir();
        staging::clean(&dir, age).await;
        if let Store::Remote { store, .. } = self {
            for journal in staging::leftovers(&dir, staging::JOURNAL, age).await {
                remote::abort_journaled(store.parts.as_ref(), &journal).await;
            }
        }
    }

    /// A fresh staging path for one file (see [`Store::staging_mode`] for how to create it).
    pub fn staging_path(&self) -> PathBuf {
        self.staging_dir().join(staging::file_name())
    }

    /// The mode to create a staged file with: private (0600) for an object store, whose
    /// staging is outside the output; the usual 0666 less umask locally, where the file is
    /// published by a rename and keeps its mode.
    pub fn staging_mode(&self) -> u32 {
        match self {
            Store::Local { .. } => staging::SHARED_FILE_MODE,
            Store::Remote { .. } => staging::PRIVATE_FILE_MODE,
        }
    }

    /// Publishes a finished staging file under `key`, replacing what was there, and removes
    /// the staging file.
    pub async fn publish(&self, staged: &Path, key: &str) -> Result<(), StoreError> {
        match self {
            Store::Local { root } => {
                let target = root.join(key);
                let failed = |cause| StoreError::Publish {
                    location: target.display().to_string(),
                    cause,
                };
                let (root, staged, moved) = (root.clone(), staged.to_owned(), target.clone());
                let publish = move || local::publish(&root, &staged, &moved, Synced::process());
                local::blocking(publish).await.map(drop).map_err(failed)
            }
            Store::Remote {
                store,
                prefix,
                staging,
                outage,
                ..
            } => {
                let upload = async {
                    let path = remote_path(prefix, key)?;
                    remote::upload(store, staged, &path, staging).await
                };
                let result = outage.attempt(self.describe(key), upload).await;
                let _ = tokio::fs::remove_file(staged).await;
                result
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
            Store::Remote {
                store,
                prefix,
                outage,
                ..
            } => {
                let delete = async {
                    match store.objects.delete(&remote_path(prefix, key)?).await {
                        Err(object_store::Error::NotFound { .. }) => Ok(()),
                        deleted => deleted,
                    }
                };
                outage.attempt(self.describe(key), delete).await
            }
        }
    }

    /// A run ended: a store found down in it is tried again by the next.
    pub fn end_run(&self) {
        if let Store::Remote { outage, .. } = self {
            outage.clear();
        }
    }

    /// Removes a staging file that will not be published. Best effort.
    pub async fn discard(&self, staged: &Path) {
        let _ = tokio::fs::remove_file(staged).await;
    }
}

/// The object of `key` below `prefix`. A key is an object's own name, as made by the layout
/// or as listed (`part-0~.parquet`, `é.parquet`): nothing in it is encoded again, or an object
/// listed for deletion would be deleted under another name.
fn remote_path(prefix: &ObjectPath, key: &str) -> Result<ObjectPath, object_store::Error> {
    let full = match prefix.as_ref() {
        "" => key.to_owned(),
        prefix => format!("{prefix}/{key}"),
    };
    ObjectPath::parse(full).map_err(|source| object_store::Error::InvalidPath { source })
}

/// Stores over an in-memory object store, for the tests of this module and its children.
#[cfg(test)]
pub(crate) mod in_memory {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use futures::StreamExt;
    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    use super::{staging, Remote, Store};

    /// A store at `url` over a new in-memory object store, staging in a private directory
    /// under `tmp` (not created yet): the store, the objects and the staging directory.
    pub fn at(url: &str, tmp: &Path) -> (Store, Arc<InMemory>, PathBuf) {
        let memory = Arc::new(InMemory::new());
        let url = url::Url::parse(url).unwrap();
        let staging = staging::private_dir_in(tmp, staging::own_uid());
        let store = Store::remote(Remote::new(memory.clone()), &url, staging.clone()).unwrap();
        (store, memory, staging)
    }

    /// The name of every object, in the store's order.
    pub async fn keys(memory: &InMemory) -> Vec<String> {
        memory
            .list(None)
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use std::sync::Arc;

    use futures::StreamExt;
    use object_store::memory::InMemory;
    use object_store::multipart::MultipartStore;
    use object_store::PutPayload;

    use super::*;
    use crate::batch::BatchBuilder;
    use crate::domain::Resource;
    use crate::writer::{Codec, PartWriter};

    /// An object-store URL the library cannot read is refused without its secrets, though the
    /// library's own error quotes it whole.
    #[test]
    fn a_url_the_library_refuses_is_quoted_without_its_secrets() {
        let url = "abfss://u:SECRETPW@cont1@acct.example.com/x";
        let location = OutputLocation::parse(url).unwrap();
        let err = Store::open(&location).err().expect("refused").to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }

    /// Messages name an object by the URL without its password or query.
    #[test]
    fn an_object_is_named_without_the_urls_secrets() {
        let url = url::Url::parse("s3://AKIAUSER:PWSECRET1@bucket/p/?sig=PWSECRET2").unwrap();
        let memory = Arc::new(InMemory::new());
        let store =
            Store::remote(Remote::new(memory), &url, PathBuf::from("/nonexistent")).unwrap();
        let shown = store.describe("calls/x/part-0.parquet");
        assert_eq!(shown, "s3://AKIAUSER:****@bucket/p/calls/x/part-0.parquet");
    }

    /// Files that earlier versions wrote under the URL's path encoded twice make the check
    /// fail, naming both prefixes, instead of an export beside them; without them it passes.
    #[tokio::test]
    async fn objects_under_the_old_prefix_of_the_url_fail_the_check() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, _) = in_memory::at("s3://bucket/my%20export", tmp.path());
        store.check().await.unwrap();
        let old = ObjectPath::parse("my%2520export/calls/x/part-0.parquet").unwrap();
        memory
            .put(&old, PutPayload::from_static(b"data"))
            .await
            .unwrap();

        let err = store.check().await.unwrap_err();
        assert!(matches!(err, StoreError::OldPrefix { .. }), "{err}");
        let said = err.to_string();
        assert!(
            said.contains("\"my%2520export\"") && said.contains("\"my export\""),
            "{said}"
        );
    }

    /// An upload that failed only after the store's retries ran out takes the store as down
    /// for the rest of the run: the next publish and delete fail at once without reaching it,
    /// while a quick failure does not; once the run ends, the store is tried again.
    #[tokio::test(start_paused = true)]
    async fn a_store_that_failed_slowly_is_not_tried_again_in_the_run() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, staging) = in_memory::at("s3://bucket/export", tmp.path());
        store.check().await.unwrap();
        let Store::Remote { outage, .. } = &store else {
            unreachable!()
        };
        let failing = |secs| async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Err::<(), _>(object_store::Error::Generic {
                store: "S3",
                source: "timed out".into(),
            })
        };
        let quick = outage.attempt("a".into(), failing(1)).await.unwrap_err();
        assert!(matches!(quick, StoreError::Remote { .. }), "{quick}");
        store.delete("calls/x/part-0.parquet").await.unwrap();

        let slow = outage.attempt("b".into(), failing(90)).await.unwrap_err();
        assert!(matches!(slow, StoreError::Remote { .. }), "{slow}");
        let staged = staging.join("day.parquet.tmp");
        std::fs::write(&staged, b"data").unwrap();
        let said = store
            .publish(&staged, "calls/x/part-0.parquet")
            .await
            .unwrap_err();
        assert!(matches!(said, StoreError::Down { .. }), "{said}");
        assert!(
            said.to_string().contains("did not take b after 90 s"),
            "{said}"
        );
        assert!(!staged.exists(), "the staged file is removed");
        let said = store.delete("calls/x/part-0.parquet").await.unwrap_err();
        assert!(matches!(said, StoreError::Down { .. }), "{said}");
        assert!(in_memory::keys(&memory).await.is_empty());

        store.end_run();
        std::fs::write(&staged, b"data").unwrap();
        store
            .publish(&staged, "calls/x/part-0.parquet")
            .await
            .unwrap();
        assert_eq!(
            in_memory::keys(&memory).await,
            ["export/calls/x/part-0.parquet"]
        );
    }

    /// A remote store stages in a fresh 0700 directory of this user, in 0600 files that are
    /// created new, and the probe leaves no marker behind.
    #[tokio::test]
    async fn remote_staging_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, staging) = in_memory::at("s3://bucket/export", tmp.path());
        store.check().await.unwrap();
        let dir = std::fs::symlink_metadata(&staging).unwrap();
        assert_eq!(dir.permissions().mode() & 0o7777, 0o700);
        assert_eq!(Some(dir.uid()), staging::own_uid());
        assert_eq!(
            memory.list(None).count().await,
            0,
            "the probe marker is gone"
        );

        let path = store.staging_path();
        let mut builder = BatchBuilder::new(Resource::Calls);
        let mut writer =
            PartWriter::create(&path, store.staging_mode(), builder.schema(), Codec::Zstd).unwrap();
        writer.write(&builder.finish()).unwrap();
        let file = writer.finish().unwrap();
        let mode = std::fs::metadata(&file.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);
        // A path that exists (a file or link planted there) is never written through.
        assert!(
            PartWriter::create(&path, store.staging_mode(), builder.schema(), Codec::Zstd).is_err()
        );

        store
            .publish(&path, "calls/x/part-0.parquet")
            .await
            .unwrap();
        assert!(!path.exists());
        let key = ObjectPath::from("export/calls/x/part-0.parquet");
        assert_eq!(memory.head(&key).await.unwrap().size, file.bytes);
    }

    /// `name` (one of this process's) as this host's dead process would have given it.
    fn of_a_dead_process(name: String) -> String {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let mut parts: Vec<&str> = name.splitn(3, '.').collect();
        let pid = pid.to_string();
        parts[1] = &pid;
        parts.join(".")
    }

    /// A process killed between writing its probe and removing it leaves the probe; the
    /// next check clears it with the other leftovers, and leaves nothing of its own.
    #[tokio::test]
    async fn a_killed_processs_probe_is_cleared_by_the_next_check() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::Local {
            root: tmp.path().to_owned(),
        };
        std::fs::create_dir_all(store.staging_dir()).unwrap();
        let probe = store
            .staging_dir()
            .join(of_a_dead_process(staging::probe_name()));
        std::fs::write(&probe, b"probe").unwrap();
        // A live process's probe (this one's, as another check is writing it) is left alone.
        let live = store.staging_dir().join(staging::probe_name());
        std::fs::write(&live, b"probe").unwrap();
        store.check().await.unwrap();
        assert!(!probe.exists());
        assert_eq!(
            files(&store.staging_dir()),
            vec![live.file_name().unwrap().to_string_lossy().into_owned()]
        );
    }

    /// A multipart upload is journaled while open; once completed, the journal is gone.
    #[tokio::test]
    async fn a_large_file_is_uploaded_in_parts_and_its_journal_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let memory = Arc::new(InMemory::new());
        let staged = tmp.path().join("big.tmp");
        let body: Vec<u8> = (0..(9u32 << 20) + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(&staged, &body).unwrap();
        let mut file = tokio::fs::File::open(&staged).await.unwrap();
        let path = ObjectPath::from("export/big");
        remote::upload_parts(memory.as_ref(), &mut file, &path, tmp.path())
            .await
            .unwrap();
        let got = memory.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.as_ref(), body.as_slice());
        assert_eq!(files(tmp.path()), vec!["big.tmp".to_owned()]);
    }

    /// The upload a killed process journaled is aborted by the next run's check.
    #[tokio::test]
    async fn a_killed_processs_upload_is_aborted_by_the_next_check() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, staging) = in_memory::at("s3://bucket/export", tmp.path());
        staging::ensure_private_dir(&staging, staging::own_uid()).unwrap();
        let path = ObjectPath::from("export/calls/x/part-0.parquet");
        let id = memory.create_multipart(&path).await.unwrap();
        memory
            .put_part(&path, &id, 0, PutPayload::from_static(b"half"))
            .await
            .unwrap();
        let journal = staging.join(of_a_dead_process(staging::journal_name()));
        std::fs::write(&journal, format!("{id}\n{path}\n")).unwrap();
        // A live process's journal is left alone.
        let live = staging.join(staging::journal_name());
        std::fs::write(&live, format!("{id}\n{path}\n")).unwrap();

        store.check().await.unwrap();
        assert!(!journal.exists());
        assert!(live.exists());
        let gone = memory
            .put_part(&path, &id, 1, PutPayload::from_static(b"more"))
            .await;
        assert!(gone.is_err(), "the upload was aborted");
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}
