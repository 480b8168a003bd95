//! One integration test binary: every test talks to real things — the simulator over real
//! HTTP on port 0, a real SQLite file, the real `twilio-export` binary, and Parquet read back.

mod support;

/// Twilio's account status: stored, shown, and suspended or closed accounts skipped.
mod accounts;
/// Bad input gives a clear message and the documented exit code, and writes nothing.
mod bad_input;
/// Warehouse DDL (`schema --format duckdb|bigquery|snowflake|postgres|spark`).
mod ddl;
/// Windows sized by the data: sparse days share requests, dense days run side by side.
mod economy;
/// The foundation: calls from the API to partitioned Parquet (issue 2).
mod export;
/// A full disk: stale staging is cleared first, a failed write removes its staging file.
mod full_disk;
/// A hostile API (redirects, foreign links and records, loops, bombs) fails windows cleanly.
mod hostile;
/// Job files that cannot mean what they say are refused before any work.
mod job_files;
/// `--log-format json` from any layer: stderr holds JSON objects only.
mod json_logs;
/// Leases expire by an injected clock, never by waiting.
mod lease_clock;
/// Statements over many accounts at once agree with the one-account ones (SQLite, Postgres).
mod many_accounts;
/// `--metrics-file`: the node_exporter textfile of a batch run.
mod metrics;
/// S3 (moto) and Azure Blob (Azurite) for real, read back with pyarrow.
mod object_stores;
/// The registry on a real Postgres (started from the system's binaries when present).
mod postgres;
/// What a run tells while it goes: periodic progress lines of `run`, a debug line per window.
mod progress;
/// Pseudonym modes are export-wide: rotation, races, empty answers, schedule, demo, key layers.
mod pseudonym_modes;
/// `--pseudonymize`: phone numbers and names as HMAC pseudonyms, checked by Python's HMAC.
mod pseudonymize;
/// `accounts purge` and `--purge-deauthorized-after`: only the account's partitions go.
mod purge;
/// Purges that must not lie or do harm: wrong output, links, stuck deletions, visibility.
mod purge_defects;
/// The Connect receiver: browser round trip, proven grants, discovery, signed deauthorize (issue 4).
mod receiver;
/// The receiver under hostile clients: slow connections, forged or replayed states, floods.
mod receiver_hardening;
/// Faults, quotas, lost grants and crashes never lose or duplicate a record (issue 6).
mod resilience;
/// A job's `retention_days`: its old partitions go at the end of each run, journaled.
mod retention;
/// Scheduled runs: jobs, checkpoints with lookback, leases, SIGTERM, convergence (issue 5).
mod scheduler;
/// `schemas/` and the code agree.
mod schemas;
/// Secrets stay out of messages, logs and `Debug`; logged values cannot forge log lines.
mod secrets;
/// Usage records end to end (issue 3).
mod usage;
/// Three env-sharded workers on one Postgres and one S3 bucket, one killed and re-run.
mod workers;
