//! Which process this is, and whether a process named in the registry is provably dead.
//!
//! Leases and runs record their process as a [`ProcessId`]: host name, pid, and an instance
//! (`boot id/pid namespace/start time`, read from Linux's `/proc`). Another process can prove
//! that one dead only when it shares the host, the boot and the pid namespace (so that the pid
//! means the same process), and then only if no such pid exists, or it is a zombie, or it
//! started at another time (the pid was reused). Anywhere else (another host or container,
//! no `/proc`), a process is never taken for dead: its lease then ends only by expiry.

use std::sync::OnceLock;

/// A process as recorded with its leases and runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pub host: String,
    pub pid: u32,
    /// `boot id/pid namespace/start time in clock ticks`; `None` where `/proc` cannot tell.
    pub instance: Option<String>,
}

impl ProcessId {
    /// This process.
    pub fn current() -> &'static ProcessId {
        static CURRENT: OnceLock<ProcessId> = OnceLock::new();
        CURRENT.get_or_init(|| {
            ProcessId::of_pid(std::process::id()).unwrap_or(ProcessId {
                host: host_name(),
                pid: std::process::id(),
                instance: None,
            })
        })
    }

    /// The process `pid` on this host as it is now, if it exists and `/proc` tells.
    pub fn of_pid(pid: u32) -> Option<ProcessId> {
        let (_, started) = stat(pid)?;
        Some(ProcessId {
            host: host_name(),
            pid,
            instance: Some(format!("{}/{started}", scope()?)),
        })
    }

    /// True only when this process can prove that `self` is gone (see the module's doc).
    pub fn provably_dead(&self) -> bool {
        let me = ProcessId::current();
        let (Some(theirs), Some(mine)) = (&self.instance, &me.instance) else {
            return false;
        };
        let Some((their_scope, started)) = theirs.rsplit_once('/') else {
            return false;
        };
        let same_scope = mine.rsplit_once('/').is_some_and(|(s, _)| s == their_scope);
        self.host == me.host && same_scope && gone(self.pid, started)
    }

    /// The instance in a form a file name can carry: a digest of where the pid means this
    /// process (boot and pid namespace), then its start time; `None` where `/proc` cannot
    /// tell. See [`ProcessId::tagged_dead`].
    pub fn instance_tag(&self) -> Option<String> {
        let (scope, started) = self.instance.as_deref()?.rsplit_once('/')?;
        Some(format!("{}-{started}", scope_digest(scope)))
    }

    /// [`ProcessId::provably_dead`] for process `pid` of this host, known by its
    /// [`ProcessId::instance_tag`]: only a process of this boot and pid namespace can be
    /// proved gone, so a tag from elsewhere (another container that shares the host name)
    /// never is.
    pub fn tagged_dead(pid: u32, tag: &str) -> bool {
        let (Some(mine), Some((their_scope, started))) = (current_tag(), tag.split_once('-'))
        else {
            return false;
        };
        mine.split_once('-').is_some_and(|(s, _)| s == their_scope) && gone(pid, started)
    }
}

/// This process's [`ProcessId::instance_tag`], hashed once.
pub fn current_tag() -> Option<&'static str> {
    static TAG: OnceLock<Option<String>> = OnceLock::new();
    TAG.get_or_init(|| ProcessId::current().instance_tag())
        .as_deref()
}

/// Whether `pid` of this boot and pid namespace is no longer the process that started at
/// `started`: no such pid, a zombie, or one that started at another time (the pid reused).
fn gone(pid: u32, started: &str) -> bool {
    match stat(pid) {
        None => true,
        Some((state, now_started)) => {
            matches!(state, 'Z' | 'X') || now_started.to_string() != started
        }
    }
}

/// 16 hex digits of SHA-256 of a scope (`boot id/pid namespace`): short enough for a file
/// name, the same in every process and version.
fn scope_digest(scope: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(scope.as_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The state letter and start time (clock ticks after boot) of `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may itself hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the line is the start time; `rest` begins at field 3.
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// `boot id/pid namespace`: where a pid names the same process as here.
fn scope() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_killed_child_or_a_reused_pid_is_dead() {
        let me = ProcessId::current().clone();
        assert!(me.instance.is_some(), "/proc should tell on Linux");
        assert!(!me.provably_dead());

        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let it = ProcessId::of_pid(child.id()).unwrap();
        assert!(!it.provably_dead());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(it.provably_dead());

        // Our pid with another start time: the pid was reused by someone else.
        let (scope, started) = me.instance.as_deref().unwrap().rsplit_once('/').unwrap();
        let reused = ProcessId {
            instance: Some(format!("{scope}/{}", started.parse::<u64>().unwrap() + 1)),
            ..me.clone()
        };
        assert!(reused.provably_dead());
        // Elsewhere, or without an instance, nothing is provable.
        let elsewhere = ProcessId {
            host: "another-host".to_owned(),
            ..reused.clone()
        };
        assert!(!elsewhere.provably_dead());
        assert!(!ProcessId {
            instance: None,
            ..reused
        }
        .provably_dead());
    }

    #[test]
    fn a_tag_proves_dead_only_a_process_of_this_boot_and_pid_namespace() {
        let me = ProcessId::current();
        let tag = me.instance_tag().expect("/proc should tell on Linux");
        assert!(!ProcessId::tagged_dead(me.pid, &tag));
        let (scope, started) = tag.split_once('-').unwrap();
        assert_eq!(scope.len(), 16);
        // Our pid with another start time: reused.
        let later = format!("{scope}-{}", started.parse::<u64>().unwrap() + 1);
        assert!(ProcessId::tagged_dead(me.pid, &later));
        // A pid no process has here.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = child.id();
        child.wait().unwrap();
        assert!(ProcessId::tagged_dead(gone_pid, &tag));
        // The same pids in another namespace (a container sharing the host name): unknown.
        let elsewhere = format!("{:016x}-{started}", 7);
        assert!(!ProcessId::tagged_dead(gone_pid, &elsewhere));
        assert!(!ProcessId::tagged_dead(me.pid, &format!("{:016x}-1", 7)));
        assert!(!ProcessId::tagged_dead(gone_pid, "not-a-tag-of-ours"));
    }
}
