//! Publishing on a local disk: a rename into the key's directory, made durable.

use std::io;
use std::path::{Path, PathBuf};

/// Moves `staged` to `target`, creating the directories it needs, then syncs every directory
/// whose entries changed: the target's (the rename) and the parent of each directory
/// created (its new entry). Without the latter, a crash could lose a new day's directory,
/// and the file in it, on a file system that does not order metadata (ext4 without a
/// journal, for one). Runs on the calling thread: callers put it on the blocking pool.
pub(super) fn publish(staged: &Path, target: &Path) -> io::Result<()> {
    let parent = target.parent().expect("keys have a directory");
    let created = create_dirs(parent)?;
    std::fs::rename(staged, target)?;
    sync_dir(parent)?;
    for dir in &created {
        sync_dir(dir.parent().expect("a created directory has a parent"))?;
    }
    Ok(())
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
    }

    #[test]
    fn a_staged_file_is_moved_under_its_key_into_new_directories() {
        let root = tempfile::tempdir().unwrap();
        let staged = root.path().join("staged.tmp");
        std::fs::write(&staged, b"rows").unwrap();
        let target = root
            .path()
            .join("calls/account_sid=AC1/date=2026-03-01/part-0.parquet");
        publish(&staged, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"rows");
        assert!(!staged.exists());
    }
}
