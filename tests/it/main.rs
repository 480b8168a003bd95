//! One integration test binary: every test talks to real things — the simulator over real
//! HTTP on port 0, a real SQLite file, the real `twilio-export` binary, and Parquet read back.

mod helpers;

/// Bad input gives a clear message and the documented exit code, and writes nothing.
mod bad_input;
/// The foundation: calls from the API to partitioned Parquet (issue 2).
mod export;
/// A hostile API (redirects, foreign links and records, loops, bombs) fails windows cleanly.
mod hostile;
/// The registry on a real Postgres (started from the system's binaries when present).
mod postgres;
/// The Connect receiver: browser round trip, proven grants, discovery, signed deauthorize (issue 4).
mod receiver;
/// Faults, quotas, lost grants and crashes never lose or duplicate a record (issue 6).
mod resilience;
/// Scheduled runs: jobs, checkpoints with lookback, leases, SIGTERM, convergence (issue 5).
mod scheduler;
/// `schemas/` and the code agree.
mod schemas;
/// Usage records end to end (issue 3).
mod usage;
