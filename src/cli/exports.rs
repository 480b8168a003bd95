//! The exporting commands' arguments: `run`, `schedule` and `backfill`.

use chrono::NaiveDate;

use super::parse::{account_sid, count, day, resource, shard};
use super::{
    ApiOptions, DatabaseOptions, JobsOptions, LimitOptions, MetricsOptions, OutputOptions,
    PseudonymOptions, PurgeOptions,
};
use crate::domain::{AccountSid, Resource};
use crate::scheduler::plan::Shard;

/// What every export needs: the registry, the output, the API and its limits, and whether
/// phone numbers and names are pseudonymized.
#[derive(clap::Args, Debug)]
pub struct ExportOptions {
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub output: OutputOptions,
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
    #[command(flatten)]
    pub pseudonym: PseudonymOptions,
}

#[derive(clap::Args, Debug)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
    #[command(flatten)]
    pub export: ExportOptions,
    #[command(flatten)]
    pub purge: PurgeOptions,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run these jobs now whatever their schedule (repeatable); default: each job for the
    /// accounts it is due for
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,
    /// Only the accounts of shard I of N (e.g. 0/4), for several workers. Without it, in a
    /// Kubernetes Indexed Job, JOB_COMPLETION_INDEX with TWILIO_EXPORT_SHARDS=N means
    /// --shard INDEX/N; one of the two without the other is an error (exit 2)
    #[arg(long, value_name = "I/N", value_parser = shard)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
    #[command(flatten)]
    pub export: ExportOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
    #[command(flatten)]
    pub purge: PurgeOptions,
}

#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    /// calls or usage-records
    #[arg(long, value_parser = resource)]
    pub resource: Resource,
    /// First UTC day (YYYY-MM-DD), 2008-01-01 or later
    #[arg(long, value_name = "DATE", value_parser = day)]
    pub from: NaiveDate,
    /// Last UTC day, inclusive (YYYY-MM-DD), today at the latest
    #[arg(long, value_name = "DATE", value_parser = day)]
    pub to: NaiveDate,
    /// Only these accounts (repeatable); default: every active account
    #[arg(long = "account", value_name = "AC…", value_parser = account_sid)]
    pub accounts: Vec<AccountSid>,
    /// Most windows exported at the same time, 1-256 [default: max-in-flight × accounts, at
    /// most 64]; an account fetches with no more windows than max-in-flight, and fewer are
    /// opened while pages come back faster than they are decoded
    #[arg(long, value_name = "N", value_parser = count(1, 256))]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub export: ExportOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
}
