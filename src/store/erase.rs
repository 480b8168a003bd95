//! Deleting partitions of one account: what `accounts purge` and a job's retention remove.
//!
//! An account's partitions of a resource live in exactly one directory of the layout,
//! `{resource}/account_sid={sid}/`. Everything here addresses that directory by its path
//! segments, never by a string prefix: `account_sid=AC…1/` is not inside `account_sid=AC…/`,
//! and neither is `account_sid=AC….bak/`. Listing never follows a symbolic link below the
//! output root (a link found in the tree is itself a file of the tree, and a link or file in
//! the account's place is the account's one entry; a link in place of `calls/` or
//! `usage_records/` is an error, not a way out of the output). Deleting a file that is already gone succeeds,
//! so a deletion that was interrupted can simply be done again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;

use super::{remote, remote_path, staging, Store, StoreError};
use crate::domain::{AccountSid, Resource};

/// A file found in (or named for) an account's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// Relative to the output root (`calls/account_sid=AC…/date=2026-03-01/part-0.parquet`).
    pub key: String,
    /// The partition's day, when the file is in a `date=YYYY-MM-DD/` directory.
    pub day: Option<NaiveDate>,
    pub bytes: u64,
}

/// The directory of `account`'s partitions of `resource`, relative to the output root.
pub fn account_dir(resource: Resource, account: &AccountSid) -> String {
    format!("{}/account_sid={account}", resource.table_name())
}

/// The day of a key below an account's directory (`date=YYYY-MM-DD/…`).
fn day_of(rest: &[&str]) -> Option<NaiveDate> {
    let segment = rest.first()?.strip_prefix("date=")?;
    NaiveDate::parse_from_str(segment, "%Y-%m-%d").ok()
}

/// `key` split into segments if it lies in `dir` (whole segments, none `.`, `..` or empty);
/// the segments below `dir` otherwise `None`.
fn below<'k>(dir: &str, key: &'k str) -> Option<Vec<&'k str>> {
    let dir: Vec<&str> = dir.split('/').collect();
    let parts: Vec<&str> = key.split('/').collect();
    let safe = parts.iter().all(|p| !matches!(*p, "" | "." | ".."));
    (safe && parts.len() > dir.len() && parts[..dir.len()] == dir[..])
        .then(|| parts[dir.len()..].to_vec())
}

impl Store {
    /// Every file in `account`'s directory of `resource`, with its size and day.
    pub async fn list_account(
        &self,
        resource: Resource,
        account: &AccountSid,
    ) -> Result<Vec<StoredFile>, StoreError> {
        let dir = account_dir(resource, account);
        let keys = match self {
            Store::Local { root } => {
                let (root, top) = (root.clone(), dir.clone());
                let listed = tokio::task::spawn_blocking(move || list_local(&root, &top)).await;
                listed
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                    .map_err(|cause| StoreError::List {
                        location: self.describe(&dir),
                        cause,
                    })?
            }
            Store::Remote { store, prefix, .. } => {
                let failed = |cause| StoreError::Remote {
                    location: self.describe(&dir),
                    cause,
                };
                let path = remote_path(prefix, &dir).map_err(failed)?;
                let found: Vec<object_store::ObjectMeta> = store
                    .objects
                    .list(Some(&path))
                    .try_collect()
                    .await
                    .map_err(failed)?;
                found
                    .into_iter()
                    .filter_map(|meta| {
                        let rest = meta.location.prefix_match(prefix)?;
                        let key: Vec<String> = rest.map(|p| p.as_ref().to_owned()).collect();
                        Some((key.join("/"), meta.size))
                    })
                    .collect()
            }
        };
        let mut files: Vec<StoredFile> = keys
            .into_iter()
            .filter_map(|(key, bytes)| {
                let day = if key == dir {
                    None
                } else {
                    day_of(&below(&dir, &key)?)
                };
                Some(StoredFile { key, day, bytes })
            })
            .collect();
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    /// Deletes `files` of `account`'s directory of `resource`, in their order (a file already
    /// gone is fine), then, on a local disk, the directories they leave empty. A key outside
    /// that directory is never deleted. An object store gets batched deletes where it has
    /// them (S3: a thousand keys a request).
    pub async fn delete_account_files(
        &self,
        resource: Resource,
        account: &AccountSid,
        files: &[StoredFile],
    ) -> Result<(), StoreError> {
        let dir = account_dir(resource, account);
        let mut keys = Vec::with_capacity(files.len());
        let local = matches!(self, Store::Local { .. });
        for file in files {
            // Locally, a link or a file in the account's place is its entry, deleted as such.
            match below(&dir, &file.key) {
                Some(_) => keys.push(file.key.clone()),
                None if local && file.key == dir => keys.push(file.key.clone()),
                None => {
                    tracing::error!(key = %file.key, account = %account, "Refusing to delete a key outside the account's directory")
                }
            }
        }
        match self {
            Store::Local { root } => {
                let root = root.clone();
                let done = tokio::task::spawn_blocking(move || delete_local(&root, &dir, &keys));
                let (key, cause) = match done.await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(failed)) => failed,
                    Err(e) => (String::new(), std::io::Error::other(e)),
                };
                Err(StoreError::Delete {
                    location: self.describe(&key),
                    cause,
                })
            }
            Store::Remote { store, prefix, .. } => {
                let paths: Vec<object_store::Result<ObjectPath>> =
                    keys.iter().map(|k| remote_path(prefix, k)).collect();
                let mut results = store
                    .objects
                    .delete_stream(futures::stream::iter(paths).boxed());
                let mut first = None;
                while let Some(result) = results.next().await {
                    match result {
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(cause) => {
                            first.get_or_insert(StoreError::Remote {
                                location: self.describe(&dir),
                                cause,
                            });
                        }
                    }
                }
                first.map_or(Ok(()), Err)
            }
        }
    }

    /// Aborts the multipart uploads journaled in this host's staging directory whose object
    /// lies in `account`'s directory of `resource` (a local output has none).
    pub async fn abort_account_uploads(&self, resource: Resource, account: &AccountSid) {
        let Store::Remote { store, prefix, .. } = self else {
            return;
        };
        let Ok(dir) = remote_path(prefix, &account_dir(resource, account)) else {
            return;
        };
        let journals =
            staging::leftovers(&self.staging_dir(), staging::JOURNAL, Duration::ZERO).await;
        for journal in journals {
            let Ok(text) = tokio::fs::read_to_string(&journal).await else {
                continue;
            };
            let path = text.lines().nth(1).map(ObjectPath::parse);
            if let Some(Ok(path)) = path {
                if path.prefix_match(&dir).is_some() {
                    remote::abort_journaled(store.parts.as_ref(), &journal).await;
                }
            }
        }
    }
}

/// Every file below `root/dir` (links not followed), as (key, size). The output root is
/// what the user named and may be a link; below it no link is ever followed: a link (or a
/// file) in the account's place is itself the account's one entry (key `dir`), and a link
/// in place of the resource's directory (`calls/`) is an error, since the account's files
/// it leads to are outside the output.
fn list_local(root: &Path, dir: &str) -> std::io::Result<Vec<(String, u64)>> {
    let table = dir.split('/').next().unwrap_or_default();
    match std::fs::symlink_metadata(root.join(table)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
        Ok(meta) if !meta.is_dir() => {
            return Err(std::io::Error::other(format!(
                "{} is not a directory (a symbolic link is not followed)",
                root.join(table).display()
            )))
        }
        Ok(_) => {}
    }
    match std::fs::symlink_metadata(root.join(dir)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
        Ok(meta) if !meta.is_dir() => return Ok(vec![(dir.to_owned(), meta.len())]),
        Ok(_) => {}
    }
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = vec![root.join(dir)];
    while let Some(path) = pending.pop() {
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if let Ok(rel) = entry.path().strip_prefix(root) {
                // A name that is not UTF-8 has no key: listing it under a lossy spelling
                // would delete nothing and report it deleted.
                let key = rel.to_str().ok_or_else(|| {
                    std::io::Error::other(format!(
                        "{} has a name that is not UTF-8; move or remove it by hand",
                        entry.path().display()
                    ))
                })?;
                found.push((key.to_owned(), meta.len()));
            }
        }
    }
    Ok(found)
}

/// An error if a directory between `root` and `key` is not a real directory (a link is
/// never followed to what it points to); a missing one is fine (nothing to delete there).
fn no_link_above(root: &Path, key: &str) -> std::io::Result<()> {
    let mut path = root.to_owned();
    let segments: Vec<&str> = key.split('/').collect();
    for segment in &segments[..segments.len().saturating_sub(1)] {
        path.push(segment);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory (a symbolic link is not followed)",
                    path.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes `keys` below `root` (one already gone is fine), then the directories they leave
/// empty, up to and including `root/dir`. One that cannot be removed does not stop the
/// others; the first failure, naming its key, is returned.
fn delete_local(root: &Path, dir: &str, keys: &[String]) -> Result<(), (String, std::io::Error)> {
    let mut first = None;
    for key in keys {
        if let Err(e) = no_link_above(root, key) {
            first.get_or_insert((key.clone(), e));
            continue;
        }
        match std::fs::remove_file(root.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                first.get_or_insert((key.clone(), e));
            }
            _ => {}
        }
    }
    let top = root.join(dir);
    for key in keys {
        let mut current = root.join(key);
        while let Some(parent) = current.parent() {
            if !parent.starts_with(&top) || std::fs::remove_dir(parent).is_err() || parent == top {
                break;
            }
            current = parent.to_owned();
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {

    use object_store::multipart::MultipartStore;
    use object_store::{ObjectStore, PutPayload};

    use super::*;

    const SID: &str = "AC00000000000000000000000000000001";

    /// On an object store, an account's directory is listed and deleted by whole segments:
    /// a neighbour whose sid differs in its last character and names that start with the
    /// directory's stay; a multipart upload journaled for the account is aborted, another
    /// account's is not.
    #[tokio::test]
    async fn a_remote_account_directory_is_exactly_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, staging_dir) =
            crate::store::in_memory::at("s3://bucket/export", tmp.path());
        staging::ensure_private_dir(&staging_dir, staging::own_uid()).unwrap();
        let account: AccountSid = SID.parse().unwrap();
        let neighbour = "AC00000000000000000000000000000002";
        let keys = [
            format!("calls/account_sid={SID}/date=2026-03-01/part-0.parquet"),
            format!("calls/account_sid={SID}/stray.txt"),
            format!("calls/account_sid={neighbour}/date=2026-03-01/part-0.parquet"),
            format!("calls/account_sid={SID}x/date=2026-03-01/part-0.parquet"),
            format!("calls/account_sid={SID}.bak/date=2026-03-01/part-0.parquet"),
            format!("usage_records/account_sid={SID}/date=2026-03-01/part-0.parquet"),
        ];
        for key in &keys {
            let path = ObjectPath::from(format!("export/{key}"));
            memory
                .put(&path, PutPayload::from_static(b"data"))
                .await
                .unwrap();
        }
        let mut journals = Vec::new();
        for sid in [SID, neighbour] {
            let path = ObjectPath::from(format!(
                "export/calls/account_sid={sid}/date=2026-03-02/part-0.parquet"
            ));
            let id = memory.create_multipart(&path).await.unwrap();
            let journal = staging_dir.join(staging::journal_name());
            std::fs::write(&journal, format!("{id}\n{path}\n")).unwrap();
            journals.push((journal, path, id));
        }

        let files = store.list_account(Resource::Calls, &account).await.unwrap();
        let listed: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(listed, vec![keys[0].as_str(), keys[1].as_str()]);
        assert_eq!(files[0].day, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!((files[1].day, files[1].bytes), (None, 4));

        store.abort_account_uploads(Resource::Calls, &account).await;
        store
            .delete_account_files(Resource::Calls, &account, &files)
            .await
            .unwrap();
        let left = crate::store::in_memory::keys(&memory).await;
        let mut want: Vec<String> = keys[2..].iter().map(|k| format!("export/{k}")).collect();
        want.sort();
        let mut left = left;
        left.sort();
        assert_eq!(left, want);
        let (ours, theirs) = (&journals[0], &journals[1]);
        assert!(!ours.0.exists(), "the account's upload journal is gone");
        assert!(memory
            .put_part(&ours.1, &ours.2, 0, PutPayload::from_static(b"x"))
            .await
            .is_err());
        assert!(theirs.0.exists(), "another account's upload is left alone");
        assert!(memory
            .put_part(&theirs.1, &theirs.2, 0, PutPayload::from_static(b"x"))
            .await
            .is_ok());
    }

    /// Objects named with characters a path would percent-encode (`~`, `%`, `#`, `[`, a space,
    /// non-ASCII), below a prefix the URL writes encoded (`my%20export`), are listed and
    /// deleted under their own names: none is left behind reported deleted.
    #[tokio::test]
    async fn objects_are_listed_and_deleted_under_their_own_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, memory, _) = crate::store::in_memory::at("s3://bucket/my%20export", tmp.path());
        let account: AccountSid = SID.parse().unwrap();
        let dir = format!("my export/calls/account_sid={SID}/date=2026-03-01");
        let names = [
            "part-0.parquet",
            "part-0~.parquet",
            "pct%41.parquet",
            "weird name #1.parquet",
            "part-0[1].parquet",
            "Kopie von part-0 \u{2013} M\u{e4}rz.parquet",
        ];
        for name in names {
            let path = ObjectPath::parse(format!("{dir}/{name}")).unwrap();
            memory
                .put(&path, PutPayload::from_static(b"data"))
                .await
                .unwrap();
        }

        let files = store.list_account(Resource::Calls, &account).await.unwrap();
        assert_eq!(files.len(), names.len());
        store
            .delete_account_files(Resource::Calls, &account, &files)
            .await
            .unwrap();
        let left = crate::store::in_memory::keys(&memory).await;
        assert_eq!(left, Vec::<String>::new());
    }

    /// Locally, a file whose name is not UTF-8 fails the listing (so a purge stays pending
    /// and says why) rather than being listed under another name and left behind.
    #[tokio::test]
    async fn a_local_file_named_in_bytes_that_are_not_utf8_fails_the_listing() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::Local {
            root: tmp.path().to_owned(),
        };
        let account: AccountSid = SID.parse().unwrap();
        let day = tmp
            .path()
            .join(format!("calls/account_sid={SID}/date=2026-03-01"));
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("part-0.parquet"), b"data").unwrap();
        let odd = std::ffi::OsStr::from_bytes(b"copy-\xff.parquet");
        std::fs::write(day.join(odd), b"data").unwrap();

        let err = store
            .list_account(Resource::Calls, &account)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }

    /// Locally, deleting the files also removes the directories they leave empty, up to the
    /// account's, and nothing beside it.
    #[tokio::test]
    async fn a_local_account_directory_goes_with_its_files() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::Local {
            root: tmp.path().to_owned(),
        };
        let account: AccountSid = SID.parse().unwrap();
        let ours = format!("calls/account_sid={SID}/date=2026-03-01/part-0.parquet");
        let beside = format!("calls/account_sid={SID}.bak/date=2026-03-01/part-0.parquet");
        for key in [&ours, &beside] {
            let path = tmp.path().join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"data").unwrap();
        }
        // A link inside the tree is deleted as a link; its target stays.
        let target = tmp.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = tmp
            .path()
            .join(format!("calls/account_sid={SID}/date=2026-03-01/link"));
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let files = store.list_account(Resource::Calls, &account).await.unwrap();
        assert_eq!(files.len(), 2);
        store
            .delete_account_files(Resource::Calls, &account, &files)
            .await
            .unwrap();
        assert!(!tmp.path().join(format!("calls/account_sid={SID}")).exists());
        assert!(tmp.path().join(&beside).exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        // A key outside the directory is refused even when asked for.
        let stray = StoredFile {
            key: beside.clone(),
            day: None,
            bytes: 4,
        };
        store
            .delete_account_files(Resource::Calls, &account, &[stray])
            .await
            .unwrap();
        assert!(tmp.path().join(&beside).exists());
    }

    #[test]
    fn keys_are_inside_only_by_whole_segments() {
        let dir = "calls/account_sid=AC00000000000000000000000000000001";
        let inside = format!("{dir}/date=2026-03-01/part-0.parquet");
        assert_eq!(
            below(dir, &inside),
            Some(vec!["date=2026-03-01", "part-0.parquet"])
        );
        assert_eq!(
            day_of(&below(dir, &inside).unwrap()),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        for outside in [
            format!("{dir}1/date=2026-03-01/part-0.parquet"),
            format!("{dir}.bak/date=2026-03-01/part-0.parquet"),
            format!("{dir}/../account_sid=AC2/x"),
            format!("{dir}//x"),
            dir.to_owned(),
            "usage_records/account_sid=AC00000000000000000000000000000001/x".to_owned(),
        ] {
            assert_eq!(below(dir, &outside), None, "{outside}");
        }
    }
}
