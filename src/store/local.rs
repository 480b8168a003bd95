//! Publishing on a local disk: a rename into the key's directory, made durable.
//!
//! A file is durable under its key once the file is synced (the writer does that), its
//! directory is synced (the rename), and so is every directory's entry in its parent up to
//! the output root. A directory that exists is not proof of the last: another task may
//! have created it and not yet synced its parent, or a killed process may have left it in
//! the page cache only. So a day's directory has its entry synced for every file published
//! into it, and the directories above it (a resource's, an account's) once per process,
//! which [`Synced`] remembers.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Directories below an output root whose entry in their parent this process has synced: a
/// resource's and an account's, so a few per account whatever the days.
#[derive(Default)]
pub(super) struct Synced(Mutex<HashSet<PathBuf>>);

impl Synced {
    /// The process's own: what one process has synced holds for all its stores.
    pub(super) fn process() -> &'static Synced {
        static SYNCED: OnceLock<Synced> = OnceLock::new();
        SYNCED.get_or_init(Synced::default)
    }

    fn contains(&self, dir: &Path) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(dir)
    }

    fn insert(&self, dir: &Path) {
        (self.0.lock().unwrap_or_else(|e| e.into_inner())).insert(dir.to_owned());
    }
}

/// Moves `staged` to `target` (under `root`), creating the directories it needs, and makes
/// it durable (see the module's doc). Returns the directories it synced, innermost first.
/// Runs on the calling thread: callers put it on the blocking pool.
pub(super) fn publish(
    root: &Path,
    staged: &Path,
    target: &Path,
    synced: &Synced,
) -> io::Result<Vec<PathBuf>> {
    let dir = target.parent().expect("keys have a directory");
    std::fs::create_dir_all(dir)?;
    std::fs::rename(staged, target)?;
    sync_dir(dir)?;
    let mut done = vec![dir.to_owned()];
    // `entry` is a directory whose entry in `parent` must be durable.
    let mut entry = dir;
    while let Some(parent) = entry.parent().filter(|p| p.starts_with(root)) {
        let day = entry == dir;
        if day || !synced.contains(entry) {
            sync_dir(parent)?;
            done.push(parent.to_owned());
            if !day {
                synced.insert(entry);
            }
        }
        if parent == root {
            break;
        }
        entry = parent;
    }
    Ok(done)
}

/// Creates `dir` (a staging directory under the output root) and makes the entries of the
/// directories it created durable, the root's among them when it is new.
pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
    for created in create_dirs(dir)? {
        match created.parent() {
            Some(p) if p.as_os_str().is_empty() => sync_dir(Path::new("."))?,
            Some(p) => sync_dir(p)?,
            None => {}
        }
    }
    Ok(())
}

/// Runs file-system work on the blocking pool: its panic goes on in the caller, and a pool
/// shut down before it ran is an error.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(io::Error::other("interrupted")),
    }
}

/// Creates `dir` and its missing ancestors; returns those it found missing, outermost first.
fn create_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_owned());
        at = d.parent();
    }
    std::fs::create_dir_all(dir)?;
    missing.reverse();
    Ok(missing)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directories_created_are_named_outermost_first_and_existing_ones_not() {
        let root = tempfile::tempdir().unwrap();
        let day = root.path().join("calls/account_sid=AC1/date=2026-03-01");
        let created = create_dirs(&day).unwrap();
        let names: Vec<_> = created
            .iter()
            .map(|d| d.strip_prefix(root.path()).unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "calls",
                "calls/account_sid=AC1",
                "calls/account_sid=AC1/date=2026-03-01"
            ]
            .map(PathBuf::from)
        );
        assert!(day.is_dir());
        let next = root.path().join("calls/account_sid=AC1/date=2026-03-02");
        assert_eq!(create_dirs(&next).unwrap(), vec![next.clone()]);
        assert_eq!(create_dirs(&next).unwrap(), Vec::<PathBuf>::new());
        create_dir(&root.path().join("new/_staging")).unwrap();
        assert!(root.path().join("new/_staging").is_dir());
    }

    #[test]
    fn a_file_is_published_with_every_entry_above_it_synced_once_per_process() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let synced = Synced::default();
        let publish_day = |account: &str, day: &str| {
            let staged = root.join(format!("{account}{day}.tmp"));
            std::fs::write(&staged, b"rows").unwrap();
            let target = root.join(format!(
                "calls/account_sid={account}/date={day}/part-0.parquet"
            ));
            let done = publish(root, &staged, &target, &synced).unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"rows");
            assert!(!staged.exists());
            done.iter()
                .map(|d| d.strip_prefix(root).unwrap().display().to_string())
                .collect::<Vec<_>>()
        };
        let account = "calls/account_sid=AC1";
        assert_eq!(
            publish_day("AC1", "2026-03-01"),
            [&format!("{account}/date=2026-03-01"), account, "calls", ""]
        );
        // The same account's next day: its own entry only; the account's is known synced.
        assert_eq!(
            publish_day("AC1", "2026-03-02"),
            [&format!("{account}/date=2026-03-02"), account]
        );
        // A day published again (a re-run) syncs its entry again: the directory existing is
        // no proof that it was synced.
        assert_eq!(
            publish_day("AC1", "2026-03-01"),
            [&format!("{account}/date=2026-03-01"), account]
        );
        // Another account: its entry in the resource's directory too.
        assert_eq!(
            publish_day("AC2", "2026-03-01"),
            [
                "calls/account_sid=AC2/date=2026-03-01",
                "calls/account_sid=AC2",
                "calls"
            ]
        );
        // Another process (nothing synced yet) syncs the existing tree's entries again.
        let fresh = Synced::default();
        let staged = root.join("again.tmp");
        std::fs::write(&staged, b"rows").unwrap();
        let target = root.join("calls/account_sid=AC1/date=2026-03-02/part-0.parquet");
        assert_eq!(publish(root, &staged, &target, &fresh).unwrap().len(), 4);
    }
}
