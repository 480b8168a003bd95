//! CPU cost of the export path per record, without the network: page JSON → typed rows →
//! Arrow batches → ZSTD Parquet on disk. Prints figures; asserts nothing about speed.
//!
//! Run: `cargo bench --bench pipeline` (release build). Compare the "decode only" line with a
//! plain `serde_json::from_slice::<serde_json::Value>` of the same pages, printed alongside.

use std::time::{Duration, Instant};

use twilio_export::batch::BatchBuilder;
use twilio_export::decode::calls::Call;
use twilio_export::decode::decode_page;
use twilio_export::domain::Resource;
use twilio_export::writer::{Codec, PartWriter};

const PAGES: usize = 200;
const PER_PAGE: usize = 1000;

fn call_json(i: usize) -> String {
    let sid = format!("CA{:032x}", 0x9b1e_6f0c_u128 * 1_000_003 + i as u128);
    let acct = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
    let sub =
        |name: &str| format!("\"{name}\":\"/2010-04-01/Accounts/{acct}/Calls/{sid}/{name}.json\"");
    let subs: Vec<String> = [
        "notifications",
        "recordings",
        "payments",
        "events",
        "siprec",
        "streams",
        "transcriptions",
        "user_defined_message_subscriptions",
        "user_defined_messages",
    ]
    .iter()
    .map(|n| sub(n))
    .collect();
    let caller = if i.is_multiple_of(7) {
        "\"Zo\\u00eb \\u00c5ngstr\\u00f6m\"".to_owned()
    } else {
        "null".to_owned()
    };
    format!(
        r#"{{"account_sid":"{acct}","answered_by":null,"api_version":"2010-04-01","caller_name":{caller},"date_created":"Sun, 01 Mar 2026 18:42:10 +0000","date_updated":"Sun, 01 Mar 2026 18:45:03 +0000","direction":"inbound","duration":"{}","end_time":"Sun, 01 Mar 2026 18:45:03 +0000","forwarded_from":null,"from":"+14155550143","from_formatted":"(415) 555-0143","group_sid":null,"parent_call_sid":null,"phone_number_sid":"PN0c7e2a9d4b1f4e6a8d3c5b7e9f1a2d40","price":"-0.{:04}","price_unit":"USD","queue_time":"0","sid":"{sid}","start_time":"Sun, 01 Mar 2026 {:02}:{:02}:{:02} +0000","status":"completed","subresource_uris":{{{}}},"to":"+14155550198","to_formatted":"(415) 555-0198","trunk_sid":null,"uri":"/2010-04-01/Accounts/{acct}/Calls/{sid}.json"}}"#,
        i % 600,
        i % 10_000,
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60,
        subs.join(",")
    )
}

fn page(n: usize) -> Vec<u8> {
    let calls: Vec<String> = (0..PER_PAGE).map(|i| call_json(n * PER_PAGE + i)).collect();
    format!(
        r#"{{"calls":[{}],"end":999,"first_page_uri":"/x","next_page_uri":"/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/Calls.json?Page=1","page":{n},"page_size":1000,"previous_page_uri":null,"start":0,"uri":"/x"}}"#,
        calls.join(",")
    )
    .into_bytes()
}

fn per_record(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6 / (PAGES * PER_PAGE) as f64
}

fn main() {
    let pages: Vec<Vec<u8>> = (0..PAGES).map(page).collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    println!(
        "{} calls in {} pages, {:.1} MiB of JSON",
        PAGES * PER_PAGE,
        PAGES,
        bytes as f64 / (1 << 20) as f64
    );

    let t = Instant::now();
    for p in &pages {
        let v: serde_json::Value = serde_json::from_slice(p).unwrap();
        std::hint::black_box(v);
    }
    println!(
        "serde_json::Value parse only:        {:6.2} µs/call",
        per_record(t.elapsed())
    );

    let t = Instant::now();
    let mut n = 0;
    for p in &pages {
        n += decode_page::<Call>(p).unwrap().records.len();
    }
    assert_eq!(n, PAGES * PER_PAGE);
    println!(
        "decode (typed rows):                 {:6.2} µs/call",
        per_record(t.elapsed())
    );

    let t = Instant::now();
    let mut builder = BatchBuilder::new(Resource::Calls);
    let mut batches = Vec::new();
    for p in &pages {
        for c in &decode_page::<Call>(p).unwrap().records {
            builder.push(c);
        }
        if builder.len() >= 8192 {
            batches.push(builder.finish());
        }
    }
    batches.push(builder.finish());
    println!(
        "decode + Arrow batches:              {:6.2} µs/call",
        per_record(t.elapsed())
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.parquet");
    let t = Instant::now();
    let mut builder = BatchBuilder::new(Resource::Calls);
    let mut writer = PartWriter::create(&path, 0o644, builder.schema(), Codec::Zstd).unwrap();
    for p in &pages {
        for c in &decode_page::<Call>(p).unwrap().records {
            builder.push(c);
        }
        if builder.len() >= 8192 {
            writer.write(&builder.finish()).unwrap();
        }
    }
    writer.write(&builder.finish()).unwrap();
    let file = writer.finish().unwrap();
    println!(
        "decode + Arrow + ZSTD Parquet file:  {:6.2} µs/call  ({:.1} MiB file, {:.0} bytes/call)",
        per_record(t.elapsed()),
        file.bytes as f64 / (1 << 20) as f64,
        file.bytes as f64 / (PAGES * PER_PAGE) as f64
    );
}
