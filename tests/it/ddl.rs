//! `schema --format <warehouse>`: the DDL of every engine equals its golden file, DuckDB's
//! reads the demo's output in place, and Postgres's creates tables that take the demo's rows.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, OnceLock};

use arrow::array::Array;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sqlx::Connection;
use twilio_export::batch::ddl::Engine;
use twilio_export::decode::value::{DECIMAL_PRECISION, DECIMAL_SCALE};
use twilio_export::domain::Resource;

use crate::support::*;

/// The real binary in a clean environment (no output, database or token configured).
fn twilio_export(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_twilio-export"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn ddl(engine: &str, resource: Resource, location: &str) -> String {
    let out = twilio_export(&[
        "schema",
        "--format",
        engine,
        "--resource",
        resource.table_name(),
        "--location",
        location,
    ]);
    assert_success(&out);
    stdout(&out)
}

/// The location the golden files are written for.
fn golden_location(engine: Engine) -> &'static str {
    match engine {
        Engine::BigQuery => "gs://example-bucket/twilio/",
        _ => "s3://example-bucket/twilio/",
    }
}

/// The golden files spell the decimal's precision and scale, which belong to
/// `decode::value`, as `(PRECISION, SCALE)`.
fn without_decimal_parameters(ddl: &str) -> String {
    ddl.replace(
        &format!("({DECIMAL_PRECISION}, {DECIMAL_SCALE})"),
        "(PRECISION, SCALE)",
    )
}

/// The DDL of every engine and resource equals `tests/golden/ddl/{engine}/{table}.sql`.
/// After a deliberate change, rewrite them with `UPDATE_GOLDEN=1 cargo test --test it ddl::`.
#[test]
fn ddl_equals_the_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for engine in Engine::ALL {
        for r in Resource::ALL {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden/ddl")
                .join(engine.name())
                .join(format!("{}.sql", r.table_name()));
            let text = without_decimal_parameters(&ddl(engine.name(), r, golden_location(engine)));
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            assert_eq!(text, golden, "{} differs from the output", path.display());
        }
    }
}

/// `sql` is the Postgres table; an unknown format is a usage error that lists the formats.
#[test]
fn sql_is_postgres_and_unknown_formats_are_usage_errors() {
    for r in Resource::ALL {
        assert_eq!(
            ddl("sql", r, "/data/export"),
            ddl("postgres", r, "/data/export")
        );
    }
    let out = twilio_export(&["schema", "--format", "oracle"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("json, arrow, sql, duckdb, bigquery, snowflake, postgres or spark"),
        "{}",
        stderr(&out)
    );
    let out = twilio_export(&["schema", "--format", "duckdb", "--location", "s3://b/it's"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--location"), "{}", stderr(&out));
}

/// Without --location the DDL points at --output.
#[test]
fn the_location_defaults_to_the_output() {
    let out = twilio_export(&[
        "schema",
        "--format",
        "duckdb",
        "--resource",
        "calls",
        "--output",
        "s3://bucket/prefix/",
    ]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("'s3://bucket/prefix/calls/*/*/*.parquet'"),
        "{}",
        stdout(&out)
    );
}

/// One demo export (2 days), shared by the tests of this module.
fn demo_output() -> &'static Path {
    static DEMO: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, output) = DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("export");
        let out = twilio_export(&["demo", "--output", output.to_str().unwrap(), "--days", "2"]);
        assert_success(&out);
        (dir, output)
    });
    output
}

/// Creates the views from `ddl.sql`, then prints, per table, the view's row count and a plain
/// `read_parquet`'s, and the view's column types.
const DUCKDB_CHECK: &str = r#"
import json, sys
import duckdb
ddl, root = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(open(ddl).read())
out = {}
for t in ["calls", "usage_records"]:
    view = con.execute(f"select count(*) from {t}").fetchone()[0]
    plain = con.execute(f"select count(*) from read_parquet('{root}/{t}/**/*.parquet')").fetchone()[0]
    types = dict(con.execute(f"select column_name, column_type from (describe {t})").fetchall())
    out[t] = {"view": view, "plain": plain, "types": types}
print(json.dumps(out))
"#;

/// The DuckDB DDL reads the demo's output: as many rows as a plain read, with the declared
/// decimal, timestamp and date types.
#[test]
fn duckdb_ddl_reads_the_demo_output() {
    let has_duckdb = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_duckdb {
        assert!(
            !in_ci(),
            "CI must have python3 with duckdb (.ci/run installs it)"
        );
        eprintln!("python3 with duckdb not found (pip install duckdb); skipping");
        return;
    }
    let root = demo_output();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ddl.sql");
    let text: String = Resource::ALL
        .iter()
        .map(|&r| ddl("duckdb", r, root.to_str().unwrap()))
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", DUCKDB_CHECK])
        .arg(&file)
        .arg(root)
        .output()
        .unwrap();
    assert_success(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for t in ["calls", "usage_records"] {
        let (view, plain) = (&doc[t]["view"], &doc[t]["plain"]);
        assert!(plain.as_u64().unwrap() > 0, "{t}: the demo wrote no rows");
        assert_eq!(view, plain, "{t}: rows through the view");
        assert_eq!(doc[t]["types"]["date"], "DATE", "{t}");
        assert_eq!(doc[t]["types"]["account_sid"], "VARCHAR", "{t}");
    }
    let decimal = format!("DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})");
    assert_eq!(doc["calls"]["types"]["price"], decimal.as_str());
    assert_eq!(doc["usage_records"]["types"]["usage"], decimal.as_str());
    assert_eq!(
        doc["calls"]["types"]["start_time"],
        "TIMESTAMP WITH TIME ZONE"
    );
    assert_eq!(doc["usage_records"]["types"]["start_date"], "DATE");
}

/// The rows of one Parquet file as CSV for `COPY … (FORMAT csv)`: values quoted, nulls empty,
/// the partition day from the path as the last field. Returns the number of rows.
fn append_csv(file: &Path, csv: &mut String) -> usize {
    let day = file
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("date="))
        .unwrap_or_else(|| panic!("{}: no date= directory", file.display()))
        .to_owned();
    let mut rows = 0;
    for batch in read_parquet(file) {
        // The formatter knows offsets, not zone names: UTC instants are written as naive
        // times with a `Z`.
        let columns: Vec<Arc<dyn Array>> = batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    cast(c, &DataType::Timestamp(*unit, None)).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let options = FormatOptions::default().with_timestamp_format(Some("%Y-%m-%dT%H:%M:%S%.fZ"));
        let formatters: Vec<ArrayFormatter<'_>> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for i in 0..batch.num_rows() {
            for (c, f) in columns.iter().zip(&formatters) {
                if !c.is_null(i) {
                    csv.push('"');
                    csv.push_str(&f.value(i).to_string().replace('"', "\"\""));
                    csv.push('"');
                }
                csv.push(',');
            }
            csv.push_str(&day);
            csv.push('\n');
            rows += 1;
        }
    }
    rows
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    files_below(dir)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| dir.join(f))
        .collect()
}

/// The Postgres DDL creates its tables on a real server and the demo's rows load into them.
#[tokio::test]
async fn postgres_ddl_takes_the_demo_rows() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let root = demo_output();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for r in Resource::ALL {
        let table = r.table_name();
        sqlx::raw_sql(&ddl("postgres", r, root.to_str().unwrap()))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut csv = String::new();
        let mut expected = 0;
        for file in parquet_files(&root.join(table)) {
            expected += append_csv(&file, &mut csv);
        }
        assert!(expected > 0, "{table}: the demo wrote no rows");
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} FROM STDIN WITH (FORMAT csv)"))
            .await
            .unwrap();
        copy.send(csv.as_bytes()).await.unwrap();
        let copied = copy.finish().await.unwrap();
        assert_eq!(copied, expected as u64, "{table}: rows copied");
        let (count, days): (i64, i64) = sqlx::query_as(&format!(
            "select count(*), count(distinct date) from {table}"
        ))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(count, expected as i64, "{table}: rows in the table");
        assert_eq!(days, 2, "{table}: partition days");
    }
    // Instants loaded as UTC: a call's partition day is the UTC date of its start.
    let checks = [
        "select count(*) from calls where price < 0",
        "select count(*) from calls where (start_time at time zone 'UTC')::date = date",
        "select count(*) from calls where (start_time at time zone 'UTC')::date <> date",
        "select count(*) from usage_records where start_date <> date",
    ];
    let mut counts = Vec::new();
    for q in checks {
        let n: i64 = sqlx::query_scalar(q).fetch_one(&mut conn).await.unwrap();
        counts.push(n);
    }
    assert!(counts[0] > 0, "no call kept its (negative) price");
    assert!(counts[1] > 0, "no call starts on its partition day");
    assert_eq!(counts[2..], [0, 0], "rows off their partition day");
}
