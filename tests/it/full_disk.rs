//! A full disk: the output is a small tmpfs mounted for the test (which needs root; elsewhere
//! the tests print why and return, in CI too, since CI containers may not mount).

use std::io::Write;
use std::path::{Path, PathBuf};

use twilio_sim::SimConfig;

use crate::support::*;

/// A tmpfs mounted at a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str, test: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED {test}: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Appends to `file` until the file system is full; returns how much it wrote.
fn fill(file: &Path) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    let chunk = vec![0u8; 4096];
    let mut written = 0;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC: {e}");
                break;
            }
        }
    }
    written
}

/// A crashed run's staging file filled the disk: the next run clears it before it checks
/// that the output is writable, and exports.
#[tokio::test]
async fn a_crashed_runs_staging_that_filled_the_disk_is_cleared_first() {
    let test = "a_crashed_runs_staging_that_filled_the_disk_is_cleared_first";
    let app = spawn_app(small_sim()).await;
    let Some(_disk) = Tmpfs::mount(&app.output(), "2m", test) else {
        return;
    };
    app.add_all_accounts().await;
    let staging = app.output().join("_staging");
    std::fs::create_dir(&staging).unwrap();
    let leftover = staging.join(format!(
        "{}.{}.0123abcd.parquet.tmp",
        staging_host(),
        dead_pid()
    ));
    assert!(fill(&leftover) > 0);

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-01"))
        .await;
    assert_success(&out);
    assert!(!leftover.exists());
    assert_eq!(files_below(&staging), Vec::<String>::new());
    for account in app.sim.account_sids() {
        let truth = app.sim.calls_on(&account, day("2026-03-01"));
        let file = partition_file(&app.output(), "calls", &account, day("2026-03-01"));
        assert_eq!(file.exists(), !truth.is_empty(), "{account}");
    }
}

/// Windows whose files do not fit fail (exit 1), and each removes its own staging file.
#[tokio::test]
async fn a_write_that_fills_the_disk_leaves_no_staging_file() {
    let test = "a_write_that_fills_the_disk_leaves_no_staging_file";
    let app = spawn_app(SimConfig {
        calls_per_day: 400,
        ..small_sim()
    })
    .await;
    let Some(_disk) = Tmpfs::mount(&app.output(), "2m", test) else {
        return;
    };
    app.add_all_accounts().await;
    // Room for the writability probe (one page), not for a day of calls.
    let ballast = app.output().join("ballast");
    let size = fill(&ballast);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ballast)
        .unwrap()
        .set_len(size - 8192)
        .unwrap();

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-01"))
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert_eq!(
        files_below(&app.output().join("_staging")),
        Vec::<String>::new()
    );
    assert!(!app.output().join("calls").exists());
}
