//! twilio-export: call logs and usage records of Twilio Connect accounts, exported to
//! partitioned Parquet.
//!
//! # Layout
//! Modules in data-flow order (see `ARCHITECTURE.md` for the codemap and invariants):
//! - [`domain`]: newtypes that can only hold valid values (sids, days, resources); no I/O.
//! - [`config`]: flags, env and TOML file merged and validated into a typed [`config::Config`],
//!   which holds the settings types of the stages (token, limits, output, database).
//! - [`registry`]: the database (accounts, partitions, runs); the only module with SQL.
//! - [`fetch`]: the rate-limited paging client for the Twilio REST API; the only outbound HTTP.
//! - [`decode`]: page JSON into typed rows; no I/O.
//! - [`batch`]: typed rows into Arrow record batches; the exported schemas live here.
//! - [`pseudonym`]: the HMAC pseudonyms of phone numbers and names (`--pseudonymize`); no I/O.
//! - [`writer`]: record batches into one Parquet file per partition.
//! - [`store`]: puts finished files into the output location atomically.
//! - [`export`]: the spine that runs one window through all of the above.
//! - [`scheduler`]: job files, cron schedules, checkpoints with lookback and leases; its
//!   `plan` decides which windows every export (scheduled or not) runs, and hands them to
//!   [`export`].
//! - [`erase`]: purges of accounts and a job's retention, journaled in the registry and done
//!   through [`store`] under the accounts' leases.
//! - [`receiver`]: the Twilio Connect callback receiver (HTTP); writes accounts to the registry.
//! - [`process`]: who this process is, and whether one recorded in the registry is dead.
//! - [`redact`]: passwords hidden in URLs shown in messages, logs and `Debug`.
//! - [`commands`]: one file per subcommand; the only place that uses `anyhow`.

pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decode;
pub mod domain;
pub mod erase;
pub mod export;
pub mod fetch;
pub mod process;
pub mod pseudonym;
pub mod receiver;
pub mod redact;
pub mod registry;
pub mod scheduler;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod writer;
