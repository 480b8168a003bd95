//! The `twilio-sim` binary: it serves the API it prints, and refuses bad options with exit 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twilio-sim"))
}

/// Ends the server however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_option_out_of_range_is_exit_2() {
    let out = binary().args(["--accounts", "0"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--accounts"), "{stderr}");
}

#[tokio::test]
async fn it_serves_the_accounts_it_prints() {
    let mut child = Running(
        binary()
            .args(["--listen", "127.0.0.1:0", "--accounts", "2", "--seed", "7"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    let base = next()
        .strip_prefix("Twilio API simulator on ")
        .expect("address line")
        .to_owned();
    let accounts: Vec<String> = next()
        .strip_prefix("  accounts:")
        .expect("accounts line")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(accounts.len(), 2);
    let resp = reqwest::Client::new()
        .get(format!("{base}/2010-04-01/Accounts/{}.json", accounts[1]))
        .basic_auth(&accounts[1], Some("sim-auth-token"))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    drop(child);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sid"], accounts[1].as_str());
}
