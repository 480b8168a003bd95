//! The test harness, one module a job; everything is re-exported here, so a test file starts
//! with `use crate::support::*;`.
//!
//! - `app`: a simulator on port 0, a temporary SQLite file and output directory, the real
//!   binary run against them (`spawn_app`, `TestApp`).
//! - `rows`: Parquet read back into comparable cells; the API's JSON typed as the test expects.
//! - `truth`: the partitions equal the simulator's truth; the days windows asked for.
//! - `scheduled`: job files, the binary at the simulator's clock, `status --json`, shards.
//! - `receiver`: the Connect receiver in process, the consent page over HTTP.
//! - `webdriver`: headless Chromium over WebDriver.
//! - `postgres`: a fresh database on a real Postgres.
//! - `ci`: CI or a laptop (`in_ci`), and a test's tools found or skipped (`required`).
//! - `poll`: waiting on a condition with a bound and a message (`eventually`), never on time.

mod app;
mod ci;
mod poll;
mod postgres;
mod receiver;
mod rows;
mod scheduled;
mod truth;
mod webdriver;

pub use app::*;
pub use ci::*;
pub use poll::*;
pub use postgres::*;
pub use receiver::*;
pub use rows::*;
pub use scheduled::*;
pub use truth::*;
pub use webdriver::*;
