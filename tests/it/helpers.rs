//! Test harness: a simulator on port 0, a temporary SQLite file and output directory, the real
//! binary, and Parquet read back into comparable cells.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDate};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use twilio_sim::{self as sim, SimConfig, Simulator};

pub const TOKEN: &str = "test-owner-token";

/// A running simulator plus a scratch directory for the database and the output.
pub struct TestApp {
    pub sim: Simulator,
    pub base: String,
    pub dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a simulator with `cfg` (its token replaced by [`TOKEN`]).
pub async fn spawn_app(mut cfg: SimConfig) -> TestApp {
    cfg.auth_token = TOKEN.to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(cfg);
    let stop = CancellationToken::new();
    tokio::spawn(sim::serve(listener, sim.clone(), stop.clone()));
    TestApp {
        sim,
        base,
        dir: tempfile::tempdir().unwrap(),
        stop,
    }
}

/// `backfill --resource R --from A --to B`.
pub fn backfill<'a>(resource: &'a str, from: &'a str, to: &'a str) -> Vec<&'a str> {
    vec![
        "backfill",
        "--resource",
        resource,
        "--from",
        from,
        "--to",
        to,
    ]
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A small, fixed simulator: 3 accounts, 4 days ending 2026-03-02.
pub fn small_sim() -> SimConfig {
    SimConfig {
        seed: 7,
        accounts: 3,
        days: 4,
        calls_per_day: 30,
        today: day("2026-03-02"),
        ..SimConfig::default()
    }
}

impl TestApp {
    pub fn output(&self) -> PathBuf {
        self.dir.path().join("export")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("registry.db").display())
    }

    /// Runs the real binary with this app's configuration in the environment.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, &[]).await
    }

    pub async fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.unwrap()
    }

    /// The real binary with this app's configuration in a clean environment, not yet started.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_twilio-export"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.database_url())
            .env("EXPORT_OUTPUT", self.output())
            .env("TWILIO_API_BASE", &self.base)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path());
        cmd
    }

    /// `accounts list --json`, parsed.
    pub async fn accounts_json(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["accounts", "list", "--json"]).await;
        assert_success(&out);
        match serde_json::from_slice(&out.stdout).unwrap() {
            serde_json::Value::Array(a) => a,
            other => panic!("accounts list --json gave {other}"),
        }
    }

    pub async fn add_all_accounts(&self) {
        let sids = self.sim.account_sids();
        let mut args = vec!["accounts", "add"];
        args.extend(sids.iter().map(String::as_str));
        let out = self.cli(&args).await;
        assert_success(&out);
    }
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Reads a Parquet file back.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A value as comparable across JSON and Arrow.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    /// Scaled by 10^scale of the column.
    Decimal(i128),
    /// Microseconds since the epoch, UTC.
    Micros(i64),
    Date(NaiveDate),
    Json(Value),
}

/// Rows of a Parquet partition as `column → cell` maps.
pub fn rows_of(batches: &[RecordBatch]) -> Vec<BTreeMap<String, Cell>> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let cell = if col.is_null(i) {
                    Cell::Null
                } else {
                    match f.data_type() {
                        DataType::Utf8 => {
                            let s = col.as_string::<i32>().value(i).to_owned();
                            if f.name() == "subresource_uris" || f.name() == "extra" {
                                Cell::Json(serde_json::from_str(&s).unwrap())
                            } else {
                                Cell::Text(s)
                            }
                        }
                        DataType::Int64 => Cell::Int(col.as_primitive::<Int64Type>().value(i)),
                        DataType::Decimal128(_, _) => {
                            Cell::Decimal(col.as_primitive::<Decimal128Type>().value(i))
                        }
                        DataType::Timestamp(_, tz) => {
                            assert_eq!(tz.as_deref(), Some("UTC"));
                            Cell::Micros(col.as_primitive::<TimestampMicrosecondType>().value(i))
                        }
                        DataType::Date32 => Cell::Date(
                            DateTime::from_timestamp(
                                col.as_primitive::<Date32Type>().value(i) as i64 * 86_400,
                                0,
                            )
                            .unwrap()
                            .date_naive(),
                        ),
                        other => panic!("unexpected column type {other}"),
                    }
                };
                row.insert(f.name().clone(), cell);
            }
            rows.push(row);
        }
    }
    rows
}

/// How the test expects each column to be typed from the API's JSON (written independently
/// of the decoder on purpose).
#[derive(Clone, Copy)]
pub enum Expect {
    Text,
    Int,
    Decimal,
    Rfc2822,
    Rfc3339,
    Date,
    Json,
}

/// The scale of the exported decimal columns, `decimal(38,18)`.
pub const DECIMAL_SCALE: u32 = 18;

/// A decimal literal scaled by 10^[`DECIMAL_SCALE`]. A string must fit exactly; a JSON number
/// (a double's shortest form) is rounded half to even at the scale, as the README documents.
fn scaled(s: &str, json_number: bool) -> i128 {
    assert!(
        !s.contains(['e', 'E']),
        "the simulator writes no exponents: {s}"
    );
    let (neg, s) = s.strip_prefix('-').map(|r| (true, r)).unwrap_or((false, s));
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let width = DECIMAL_SCALE as usize;
    let (kept, dropped) = if f.len() > width {
        assert!(json_number, "a string with more than {width} places: {s}");
        f.split_at(width)
    } else {
        (f, "")
    };
    let mut v: i128 = format!("{i}{kept:0<width$}").parse().unwrap();
    let first = dropped.bytes().next().map_or(0, |b| b - b'0');
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');
    if first > 5 || (first == 5 && (rest_nonzero || v % 2 == 1)) {
        v += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// The cell a JSON field should become.
pub fn expected_cell(expect: Expect, v: Option<&Value>) -> Cell {
    let v = match v {
        None | Some(Value::Null) => return Cell::Null,
        Some(v) => v,
    };
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    match expect {
        Expect::Text => Cell::Text(text),
        Expect::Json => Cell::Json(v.clone()),
        _ if text.is_empty() => Cell::Null,
        Expect::Int => Cell::Int(text.parse().unwrap()),
        Expect::Decimal => Cell::Decimal(scaled(&text, v.is_number())),
        Expect::Rfc2822 => Cell::Micros(
            DateTime::parse_from_rfc2822(&text)
                .unwrap()
                .timestamp_micros(),
        ),
        Expect::Rfc3339 => Cell::Micros(
            DateTime::parse_from_rfc3339(&text)
                .unwrap()
                .timestamp_micros(),
        ),
        Expect::Date => Cell::Date(text.parse().unwrap()),
    }
}

pub const CALL_COLUMNS: &[(&str, Expect)] = &[
    ("sid", Expect::Text),
    ("account_sid", Expect::Text),
    ("parent_call_sid", Expect::Text),
    ("date_created", Expect::Rfc2822),
    ("date_updated", Expect::Rfc2822),
    ("start_time", Expect::Rfc2822),
    ("end_time", Expect::Rfc2822),
    ("duration", Expect::Int),
    ("price", Expect::Decimal),
    ("price_unit", Expect::Text),
    ("status", Expect::Text),
    ("direction", Expect::Text),
    ("answered_by", Expect::Text),
    ("to", Expect::Text),
    ("from", Expect::Text),
    ("to_formatted", Expect::Text),
    ("from_formatted", Expect::Text),
    ("phone_number_sid", Expect::Text),
    ("group_sid", Expect::Text),
    ("trunk_sid", Expect::Text),
    ("forwarded_from", Expect::Text),
    ("caller_name", Expect::Text),
    ("queue_time", Expect::Int),
    ("api_version", Expect::Text),
    ("uri", Expect::Text),
    ("subresource_uris", Expect::Json),
];

pub const USAGE_COLUMNS: &[(&str, Expect)] = &[
    ("account_sid", Expect::Text),
    ("api_version", Expect::Text),
    ("category", Expect::Text),
    ("description", Expect::Text),
    ("start_date", Expect::Date),
    ("end_date", Expect::Date),
    ("as_of", Expect::Rfc3339),
    ("count", Expect::Decimal),
    ("count_unit", Expect::Text),
    ("usage", Expect::Decimal),
    ("usage_unit", Expect::Text),
    ("price", Expect::Decimal),
    ("price_unit", Expect::Text),
    ("uri", Expect::Text),
    ("subresource_uris", Expect::Json),
];

/// Compares exported rows with the API's records, keyed by `key`, field by field; every
/// field of the JSON must be accounted for (known columns, or the `extra` column).
pub fn assert_rows_match(
    rows: &[BTreeMap<String, Cell>],
    truth: &[Value],
    columns: &[(&str, Expect)],
    key: &str,
) {
    assert_eq!(rows.len(), truth.len(), "row count");
    let by_key: BTreeMap<String, &BTreeMap<String, Cell>> = rows
        .iter()
        .map(|r| match &r[key] {
            Cell::Text(s) => (s.clone(), r),
            other => panic!("key {other:?}"),
        })
        .collect();
    assert_eq!(by_key.len(), rows.len(), "duplicate {key} in the output");
    for t in truth {
        let id = t[key].as_str().unwrap();
        let row = by_key
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing from the output"));
        for (name, expect) in columns {
            assert_eq!(
                row[*name],
                expected_cell(*expect, t.get(*name)),
                "{id}: column {name}"
            );
        }
        let known: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let extra: serde_json::Map<String, Value> = t
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want = if extra.is_empty() {
            Cell::Null
        } else {
            Cell::Json(Value::Object(extra))
        };
        assert_eq!(row["extra"], want, "{id}: column extra");
    }
}

/// The partition file of one account, resource and day.
pub fn partition_file(output: &Path, table: &str, account: &str, day: NaiveDate) -> PathBuf {
    output
        .join(table)
        .join(format!("account_sid={account}"))
        .join(format!("date={day}"))
        .join("part-0.parquet")
}

/// This host's name as staging file names carry it (`{host}.{pid}.{uuid}…`).
pub fn staging_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The pid of a process that has exited: staging files named after it are a crash's leftovers.
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}
