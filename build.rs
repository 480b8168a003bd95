//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations/` directories at compile time, and Cargo does not see new files there alone.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
