//! Staging directories: where a file is written before it is published, who owns it, and
//! which leftovers of crashed processes may be removed.
//!
//! A local output stages in `{root}/_staging/`, on the same file system as the final keys (so
//! publishing is a rename) and as protected as the output itself. An object store stages on the
//! local disk in `$TMPDIR/twilio-export-{uid}/`: a directory of this user only (mode 0700),
//! created by us or, when it exists, used only if it is a real directory owned by this user
//! that no one else can enter. Files staged there are created new with mode 0600.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::process::ProcessId;

/// Mode of a staging directory for an object store.
const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of a file staged for an object store.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of a file staged for a local output: what a new file gets, less the umask.
pub const SHARED_FILE_MODE: u32 = 0o666;

/// Why a private staging directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDir {
    #[error("it is not a directory (a symlink or a file)")]
    NotADirectory,
    #[error("it belongs to uid {owner}, not to this user (uid {me})")]
    OtherOwner { owner: u32, me: u32 },
    #[error("its mode is {mode:04o}; only its owner may enter it (0700)")]
    OpenMode { mode: u32 },
    #[error("cannot create or inspect it: {0}")]
    Io(std::io::Error),
    #[error("the uid of this process is unknown (no /proc/self)")]
    UnknownUser,
}

/// The effective uid of this process (the owner of `/proc/self` on Linux).
pub fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// `$TMPDIR/twilio-export-{uid}`: one user's staging directory for object stores.
pub fn private_dir_in(tmp: &Path, uid: Option<u32>) -> PathBuf {
    match uid {
        Some(uid) => tmp.join(format!("twilio-export-{uid}")),
        None => tmp.join("twilio-export"),
    }
}

/// Creates `dir` with mode 0700, or accepts it if it already is a directory of this user
/// that only this user can enter. Never follows a symlink and never changes what exists.
pub fn ensure_private_dir(dir: &Path, uid: Option<u32>) -> Result<(), UnsafeDir> {
    let me = uid.ok_or(UnsafeDir::UnknownUser)?;
    match std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
    {
        Ok(()) => {
            // The umask may have removed bits we asked for, never added any; still, be exact.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR_MODE))
                .map_err(UnsafeDir::Io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(UnsafeDir::Io(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(UnsafeDir::Io)?;
    if !meta.file_type().is_dir() {
        return Err(UnsafeDir::NotADirectory);
    }
    if meta.uid() != me {
        return Err(UnsafeDir::OtherOwner {
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(UnsafeDir::OpenMode { mode });
    }
    Ok(())
}

/// A fresh staging file name, carrying this host and process (`host.pid.tag.uuid`, the tag
/// being [`ProcessId::instance_tag`]) so that a later run can tell a crashed writer's
/// leftovers from a live one's work.
pub fn file_name() -> String {
    owned_name(STAGED)
}

/// A fresh name for the journal of one multipart upload (see `store::remote`).
pub fn journal_name() -> String {
    owned_name(JOURNAL)
}

/// A fresh name for the file that proves the staging directory writable: owned like a staged
/// file, so that the probe of a process killed before it removed it is cleared as one.
pub fn probe_name() -> String {
    owned_name(PROBE)
}

/// How probe files end.
pub const PROBE: &str = ".probe.tmp";
/// How staged files end (dataset readers skip `.tmp`).
pub const STAGED: &str = ".parquet.tmp";
/// How journals of multipart uploads end.
pub const JOURNAL: &str = ".upload";

fn owned_name(suffix: &str) -> String {
    format!(
        "{}.{}.{}.{}{suffix}",
        host_name(),
        ProcessId::current().pid,
        crate::process::current_tag().unwrap_or(UNKNOWN_INSTANCE),
        uuid::Uuid::new_v4().simple()
    )
}

/// The tag of a name whose process `/proc` could not tell: never proved dead.
const UNKNOWN_INSTANCE: &str = "unknown";

/// Removes staging files left by a crash (see [`leftovers`]). Best effort.
pub async fn clean(dir: &Path, age: Duration) {
    for path in leftovers(dir, ".tmp", age).await {
        let _ = tokio::fs::remove_file(path).await;
    }
}

/// Files in `dir` ending in `suffix` left by a crash: those of a process of this host that
/// is provably gone, and any older than `age` (another host's or container's, or where
/// processes cannot be seen).
pub async fn leftovers(dir: &Path, suffix: &str, age: Duration) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return found;
    };
    let host = host_name();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(suffix) {
            continue;
        }
        let orphan = owner(&name).is_some_and(|o| o.host == host && o.is_gone());
        let old = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|d| d >= age);
        if orphan || old {
            found.push(entry.path());
        }
    }
    found
}

/// This host's name as [`ProcessId::current`] has it, made safe for a file name (once: every
/// staged file carries it).
fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        (ProcessId::current().host.chars())
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    })
}

/// Who wrote a staging file, as its name says.
struct Owner<'n> {
    host: &'n str,
    pid: u32,
    /// [`ProcessId::instance_tag`]; `None` in names of versions before it was carried.
    tag: Option<&'n str>,
}

impl Owner<'_> {
    /// Whether the writer is provably gone. A name without a tag (an older version's) goes
    /// by its pid alone, as it always did.
    fn is_gone(&self) -> bool {
        match self.tag {
            Some(tag) => ProcessId::tagged_dead(self.pid, tag),
            None => {
                cfg!(target_os = "linux") && !Path::new(&format!("/proc/{}", self.pid)).exists()
            }
        }
    }
}

/// The writer a staging name carries: `host.pid.tag.uuid…`, or `host.pid.uuid…` before tags.
fn owner(name: &str) -> Option<Owner<'_>> {
    let mut parts = name.split('.');
    let host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let third = parts.next()?;
    let tag = (third.contains('-') || third == UNKNOWN_INSTANCE).then_some(third);
    Some(Owner { host, pid, tag })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_private_dir_is_0700_and_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = private_dir_in(tmp.path(), own_uid());
        ensure_private_dir(&dir, own_uid()).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), own_uid().unwrap());
        // Reused as is on the next run.
        ensure_private_dir(&dir, own_uid()).unwrap();
    }

    #[test]
    fn a_shared_or_foreign_or_linked_dir_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let me = own_uid();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            ensure_private_dir(&open, me),
            Err(UnsafeDir::OpenMode { mode: 0o777 })
        ));
        assert_eq!(mode_of(&open), 0o777);

        let foreign = tmp.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
        // Another user's directory, as the owner this process would see.
        let other = me.unwrap() + 1;
        assert!(matches!(
            ensure_private_dir(&foreign, Some(other)),
            Err(UnsafeDir::OtherOwner { .. })
        ));

        let target = tmp.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            ensure_private_dir(&link, me),
            Err(UnsafeDir::NotADirectory)
        ));
    }

    /// A staging name of this host, of process `pid` with `tag`.
    fn named(pid: u32, tag: &str) -> String {
        format!("{}.{pid}.{tag}.{}{STAGED}", host_name(), "0".repeat(32))
    }

    #[tokio::test]
    async fn leftovers_are_those_of_processes_provably_gone_from_this_boot_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let me = ProcessId::current();
        let tag = me.instance_tag().expect("/proc should tell on Linux");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let (scope, started) = tag.split_once('-').unwrap();
        let elsewhere = format!("{:016x}-{started}", 7);
        let names = [
            ("live", file_name()),
            ("dead", named(dead, &tag)),
            (
                "reused",
                format!(
                    "{}.{}.{scope}-{}.{}{STAGED}",
                    host_name(),
                    me.pid,
                    1,
                    "0".repeat(32)
                ),
            ),
            // Another container with this host name: its pids are not ours to look up.
            ("other namespace", named(dead, &elsewhere)),
            ("unknown", named(dead, UNKNOWN_INSTANCE)),
            // An older version's name: by its pid alone.
            (
                "untagged",
                format!("{}.{dead}.{}{STAGED}", host_name(), "0".repeat(32)),
            ),
            (
                "other host",
                format!("another-host.{dead}.{tag}.{}{STAGED}", "0".repeat(32)),
            ),
        ];
        for (_, name) in &names {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let mut found: Vec<String> = leftovers(dir.path(), STAGED, Duration::from_secs(3600))
            .await
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut expected: Vec<String> = (names.iter())
            .filter(|(what, _)| ["dead", "reused", "untagged"].contains(what))
            .map(|(_, name)| name.clone())
            .collect();
        expected.sort();
        assert_eq!(found, expected);
    }
}
