//! CPU per call of the export path against its floor, on pages the simulator renders (seed
//! 42), in process and without the network. Prints figures; asserts nothing about speed.
//!
//! The floor is `serde_json` into `serde::de::IgnoredAny` on the same page bytes: what merely
//! reading the JSON costs. Each stage runs in a function named `measured_*` so that an
//! instruction count can be taken of it alone, on a noisy machine too:
//!
//! ```sh
//! cargo bench --bench cpu --no-run          # prints the binary's path
//! valgrind --tool=callgrind --toggle-collect='*measured_*' target/release/deps/cpu-… floor
//! ```
//!
//! Modes (the first argument): `floor`, `decode` (typed rows), `arrow` (decode + Arrow
//! batches), `parquet` (decode + Arrow + ZSTD Parquet file: the pipeline), or none for all four
//! timed. `CALLS` sets the number of calls (default 100,000); `REPEAT` how many times each
//! stage runs (default 1; the fastest run is printed, and the median); `OUT` a path at which
//! to keep the Parquet file (to look at its columns).

use std::time::Instant;

use chrono::NaiveDate;
use twilio_export::batch::BatchBuilder;
use twilio_export::decode::calls::Call;
use twilio_export::decode::decode_page;
use twilio_export::domain::Resource;
use twilio_export::writer::{Codec, PartWriter};
use twilio_sim::{SimConfig, Simulator};

const PER_PAGE: usize = 1000;
/// Rows per batch handed to the writer, as a window of one day does.
const BATCH_ROWS: usize = 4096;

/// Pages of 1000 calls as the simulator serves them (one account, consecutive days).
fn pages(calls: usize) -> (Vec<Vec<u8>>, usize) {
    let per_day = 20_000;
    let days = calls.div_ceil(per_day).max(1) as u32;
    let today = NaiveDate::from_ymd_opt(2026, 3, 31).expect("valid");
    let sim = Simulator::new(SimConfig {
        accounts: 1,
        days,
        calls_per_day: per_day as u32,
        today,
        ..SimConfig::with_seed(42)
    });
    let account = sim.account_sids().remove(0);
    let mut all = Vec::new();
    for back in 0..days {
        all.extend(sim.calls_on(&account, today - chrono::Days::new(back.into())));
    }
    all.truncate(calls);
    let calls = all.len();
    let next = format!("/2010-04-01/Accounts/{account}/Calls.json?PageSize=1000&Page=1");
    let pages = all
        .chunks(PER_PAGE)
        .enumerate()
        .map(|(i, chunk)| {
            serde_json::to_vec(&serde_json::json!({
                "calls": chunk,
                "end": i * PER_PAGE + chunk.len() - 1,
                "first_page_uri": next,
                "next_page_uri": next,
                "page": i,
                "page_size": PER_PAGE,
                "previous_page_uri": null,
                "start": i * PER_PAGE,
                "uri": next,
            }))
            .expect("serializes")
        })
        .collect();
    (pages, calls)
}

#[inline(never)]
fn measured_floor(pages: &[Vec<u8>]) -> usize {
    for p in pages {
        let v: serde::de::IgnoredAny = serde_json::from_slice(p).expect("valid JSON");
        std::hint::black_box(v);
    }
    pages.len()
}

#[inline(never)]
fn measured_decode(pages: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for p in pages {
        n += std::hint::black_box(decode_page::<Call>(p).expect("decodes"))
            .records
            .len();
    }
    n
}

#[inline(never)]
fn measured_arrow(pages: &[Vec<u8>]) -> usize {
    let mut builder = BatchBuilder::new(Resource::Calls);
    let mut rows = 0;
    for p in pages {
        for c in &decode_page::<Call>(p).expect("decodes").records {
            builder.push(c);
        }
        if builder.len() >= BATCH_ROWS {
            rows += std::hint::black_box(builder.finish()).num_rows();
        }
    }
    rows + builder.finish().num_rows()
}

#[inline(never)]
fn measured_parquet(pages: &[Vec<u8>], path: &std::path::Path) -> usize {
    let mut builder = BatchBuilder::new(Resource::Calls);
    let mut writer =
        PartWriter::create(path, 0o600, builder.schema(), Codec::Zstd).expect("creates");
    for p in pages {
        for c in &decode_page::<Call>(p).expect("decodes").records {
            builder.push(c);
        }
        if builder.len() >= BATCH_ROWS {
            writer.write(&builder.finish()).expect("writes");
        }
    }
    writer.write(&builder.finish()).expect("writes");
    writer.finish().expect("finishes").rows as usize
}

/// User + system CPU time of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    // SAFETY: zeroed and then filled by getrusage.
    let u = unsafe { u.assume_init() };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

fn main() {
    let calls = env_number("CALLS", 100_000);
    let mode = std::env::args().nth(1);
    let (pages, calls) = pages(calls);
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("OUT").map_or_else(|| dir.path().join("calls.parquet"), Into::into);
    println!(
        "{calls} simulator calls in {} pages, {:.1} MiB of JSON ({} bytes/call)",
        pages.len(),
        bytes as f64 / (1 << 20) as f64,
        bytes / calls
    );
    let stages: [(&str, &dyn Fn() -> usize); 4] = [
        ("floor", &|| measured_floor(&pages)),
        ("decode", &|| measured_decode(&pages)),
        ("arrow", &|| measured_arrow(&pages)),
        ("parquet", &|| {
            let _ = std::fs::remove_file(&path);
            measured_parquet(&pages, &path)
        }),
    ];
    let repeat = env_number("REPEAT", 1).max(1);
    for (name, run) in stages {
        if mode.as_deref().is_some_and(|m| m != name) {
            continue;
        }
        let mut runs: Vec<(f64, f64)> = (0..repeat)
            .map(|_| {
                let (wall, cpu) = (Instant::now(), cpu_seconds());
                std::hint::black_box(run());
                let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
                (cpu * 1e6 / calls as f64, wall * 1e6 / calls as f64)
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ((cpu, wall), median) = (runs[0], runs[runs.len() / 2].0);
        println!("{name:8} {cpu:6.2} µs/call CPU ({wall:6.2} µs/call wall; median of {repeat}: {median:6.2} µs CPU)");
    }
}

/// A number from the environment, or `default`.
fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
