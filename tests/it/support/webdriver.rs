//! A minimal WebDriver client for headless Chromium (Debian's `chromium` + `chromium-driver`).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// A minimal WebDriver client (chromedriver from Debian's `chromium-driver`) over reqwest,
/// which the crate already has; a browser-automation crate would add much for five calls.
pub struct Browser {
    pub http: reqwest::Client,
    pub session: String,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// `None` (with a message) when Chromium is not installed, unless in CI, where it must be.
    pub async fn start() -> Option<Self> {
        let found = (find_program("chromium"), find_program("chromedriver"));
        let (chromium, chromedriver) = required(
            found.0.zip(found.1),
            "browser_round_trip_connects_an_account",
            "chromium and chromedriver (apt-get install chromium chromium-driver)",
        )?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            http: reqwest::Client::new(),
            session: format!("http://127.0.0.1:{port}"),
            driver,
            _profile: profile,
        };
        // Wait (at most 30 s) until the driver answers; a bound, not a timing assertion.
        let mut ready = false;
        for _ in 0..600 {
            if let Ok(resp) = browser
                .http
                .get(format!("{}/status", browser.session))
                .send()
                .await
            {
                if resp.status().is_success() {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not start");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let created = browser
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        let id = created["sessionId"].as_str().unwrap().to_owned();
        browser.session = format!("{}/session/{id}", browser.session);
        Some(browser)
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {v}");
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap().to_owned()
    }

    /// The element matching `css`, waiting (at most 30 s) for a navigation to bring it.
    pub async fn wait_for(&self, css: &str) -> String {
        for _ in 0..600 {
            let resp = self
                .http
                .post(format!("{}/element", self.session))
                .header("content-type", "application/json")
                .body(json!({"using": "css selector", "value": css}).to_string())
                .send()
                .await
                .unwrap();
            if resp.status().is_success() {
                let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no element {css} on {}", self.current_url().await);
    }

    pub async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, element: &str) -> String {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
            .await;
        v.as_str().unwrap().to_owned()
    }

    pub async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill().await;
    }
}
