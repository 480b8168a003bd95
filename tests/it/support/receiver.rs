//! The Connect receiver in this process, on port 0, in front of a simulator whose consent page
//! redirects to it (the receiver's port is bound first so each knows the other); the consent
//! page pressed over HTTP; the accounts a grant reaches.

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;
use twilio_export::domain::ConnectAppSid;
use twilio_export::domain::{AccountSid, AuthToken};
use twilio_export::fetch::Limits;
use twilio_export::fetch::{Quotas, TwilioClient};
use twilio_export::receiver::{self, ReceiverConfig, ReceiverLimits, ReceiverState, STATE_COOKIE};
use twilio_export::registry::{Account, AccountStatus, Registry};
use twilio_sim::{send_deauthorize, DeauthorizeCallback, Signing, SimConfig};
use url::Url;

use super::*;

/// A receiver running in-process on port 0 against the app's simulator and database.
pub struct Receiver {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub registry: Registry,
    pub http: reqwest::Client,
    /// Stops `serve` (and cancels its API calls).
    pub stop: CancellationToken,
    /// `serve` itself; it ends once stopped.
    pub served: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The simulator (with `subaccounts` per account, its consent page redirecting to the
/// receiver) and the receiver. The receiver's port is bound first so each knows the other.
pub async fn connect_env(subaccounts: usize, discover: bool) -> (TestApp, Receiver) {
    connect_env_with(subaccounts, discover, ReceiverLimits::default()).await
}

/// [`connect_env`] with other limits.
pub async fn connect_env_with(
    subaccounts: usize,
    discover: bool,
    limits: ReceiverLimits,
) -> (TestApp, Receiver) {
    let cfg = SimConfig {
        subaccounts,
        ..small_sim()
    };
    connect_env_from(cfg, discover, limits).await
}

/// The receiver in front of a simulator started from `cfg` (its consent page redirecting to
/// the receiver).
pub async fn connect_env_from(
    cfg: SimConfig,
    discover: bool,
    limits: ReceiverLimits,
) -> (TestApp, Receiver) {
    connect_env_owned(cfg, discover, limits, |_| None).await
}

/// [`connect_env_from`] with the app owner's account sid that `owner` picks of the simulator.
pub async fn connect_env_owned(
    cfg: SimConfig,
    discover: bool,
    limits: ReceiverLimits,
    owner: impl FnOnce(&TestApp) -> Option<String>,
) -> (TestApp, Receiver) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = spawn_app(SimConfig {
        authorize_url: Some(format!("{base}/connect/authorize")),
        ..cfg
    })
    .await;
    let token = AuthToken::new(TOKEN.to_owned()).unwrap();
    let stop = CancellationToken::new();
    let client = TwilioClient::new(
        Url::parse(&app.base).unwrap(),
        token.clone(),
        Quotas::new(Limits::default()),
    )
    .unwrap();
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    let config = ReceiverConfig {
        owner_account_sid: owner(&app).map(|s| AccountSid::parse(&s).unwrap()),
        public_url: Url::parse(&base).unwrap(),
        connect_base: Url::parse(&app.base).unwrap(),
        connect_app_sid: ConnectAppSid::parse(&app.sim.config().connect_app_sid).unwrap(),
        discover,
        limits,
    };
    let state = ReceiverState::new(config, client, registry.clone(), token);
    let served = tokio::spawn(receiver::serve(listener, state, stop.clone()));
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let receiver = Receiver {
        base,
        addr,
        registry,
        http,
        stop,
        served: Some(served),
    };
    (app, receiver)
}

impl Receiver {
    /// `GET /`: the state in the Connect link, which must equal the cookie's.
    pub async fn begin(&self) -> String {
        let resp = self.http.get(&self.base).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(attr), "{set_cookie}");
        }
        let cookie_nonce = set_cookie
            .strip_prefix(&format!("{STATE_COOKIE}="))
            .and_then(|s| s.split(';').next())
            .unwrap()
            .to_owned();
        let html = resp.text().await.unwrap();
        let href = html
            .split("id=\"connect\" class=\"button\" href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .replace("&amp;", "&");
        let link = Url::parse(&href).unwrap();
        assert!(link.path().starts_with("/authorize/CN"), "{href}");
        let state = link
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(state, cookie_nonce);
        state
    }

    pub async fn authorize(&self, query: &str, state_cookie: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}/connect/authorize?{query}", self.base));
        if let Some(c) = state_cookie {
            req = req.header("cookie", format!("{STATE_COOKIE}={c}"));
        }
        req.send().await.unwrap()
    }

    /// The whole flow over HTTP: `/`, the consent page's Authorize, back to the receiver.
    pub async fn connect(&self, app: &TestApp, main: &str) -> reqwest::Response {
        let state = self.begin().await;
        let location = consent(app, &state, main, "authorize").await;
        let query = Url::parse(&location).unwrap().query().unwrap().to_owned();
        self.authorize(&query, Some(&state)).await
    }

    pub async fn deauthorize(
        &self,
        account: &str,
        app_sid: &str,
        post: bool,
        signing: Signing,
    ) -> u16 {
        send_deauthorize(
            &DeauthorizeCallback {
                url: format!("{}/connect/deauthorize", self.base),
                account_sid: account.to_owned(),
                connect_app_sid: app_sid.to_owned(),
                post,
                signing,
            },
            TOKEN,
        )
        .await
        .unwrap()
    }

    pub async fn accounts(&self) -> Vec<Account> {
        self.registry.accounts().await.unwrap()
    }

    /// Whether every registered account has `status`.
    pub async fn all_are(&self, status: AccountStatus) -> bool {
        self.accounts().await.iter().all(|a| a.status == status)
    }

    pub async fn metrics(&self) -> String {
        let resp = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }
}

/// Presses a button on the simulator's consent page; returns where it redirects.
pub async fn consent(app: &TestApp, state: &str, main: &str, decision: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page_url = format!(
        "{}/authorize/{}?state={state}",
        app.base,
        app.sim.config().connect_app_sid
    );
    let page = http.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{state}\"")), "state kept");
    let resp = http
        .post(format!(
            "{}/authorize/{}",
            app.base,
            app.sim.config().connect_app_sid
        ))
        .form(&[("state", state), ("account", main), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// (sid, credential, status) of every registered account, sorted.
pub fn summary(accounts: &[Account]) -> Vec<(String, String, AccountStatus)> {
    accounts
        .iter()
        .map(|a| (a.sid.to_string(), a.credential_sid.to_string(), a.status))
        .collect()
}

/// The accounts a grant of `connect` on `main`'s tree reaches: (sid, credential) sorted.
pub fn tree(app: &TestApp, main: &str) -> Vec<(String, String, AccountStatus)> {
    let connect = app.sim.granted_sid(main).unwrap();
    let mut want: Vec<_> = std::iter::once(main.to_owned())
        .chain(app.sim.subaccount_sids(main))
        .map(|s| (s, connect.clone(), AccountStatus::Active))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    want
}

/// The real `serve` binary with the app's configuration, our Connect App and `RUST_LOG`,
/// stderr piped; its base URL, read from the first line it prints.
pub async fn spawn_serve(app: &TestApp, rust_log: &str) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let cn = app.sim.config().connect_app_sid.clone();
    let mut serve = app
        .command(&["serve", "--listen", "127.0.0.1:0", "--connect-app-sid", &cn])
        .env("TWILIO_CONNECT_BASE", &app.base)
        .env("RUST_LOG", rust_log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .strip_prefix("Connect receiver on ")
        .unwrap_or_else(|| panic!("serve printed {first:?}"))
        .to_owned();
    (serve, base)
}
