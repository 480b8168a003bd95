//! The Authorize URL: a grant is stored only once the API proved it, with the accounts it can
//! read; forged, revoked, malformed or denied authorizations store nothing.

use reqwest::StatusCode;
use twilio_export::receiver::ReceiverLimits;
use twilio_export::registry::AccountStatus;
use twilio_sim::{Signing, SimConfig};
use url::Url;

use crate::support::*;

#[tokio::test]
async fn an_api_proven_grant_is_stored_with_the_accounts_it_can_read() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    assert_ne!(connect, main, "a tree hands out the Connect subaccount");

    let resp = r.connect(&app, &main).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "connected?accounts=3");
    assert!(!location.contains("AC"));
    let page = r
        .http
        .get(format!("{}/connect/{location}", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Your Twilio account is connected"));
    assert!(!html.contains(&connect), "no sid on the page");
    // The Connect account, its parent (where the calls are) and the parent's other subaccount,
    // all reached with the Connect sid's credentials.
    let accounts = r.accounts().await;
    assert_eq!(summary(&accounts), tree(&app, &main));
    assert!(accounts.iter().all(|a| a.verified_at.is_some()));
    let parent = accounts.iter().find(|a| a.sid.as_str() == main).unwrap();
    assert_eq!(parent.owner_account_sid.as_deref(), Some(main.as_str()));
    // The grant was proven before anything was stored, with the Connect sid as username.
    let log = app.sim.requests();
    let first = log
        .iter()
        .find(|q| q.path.starts_with("/2010-04-01/"))
        .unwrap();
    assert_eq!(first.path, format!("/2010-04-01/Accounts/{connect}.json"));
    assert_eq!(first.username.as_deref(), Some(connect.as_str()));
    // The other main accounts were not touched.
    let others = &app.sim.main_account_sids()[1..];
    assert!(accounts
        .iter()
        .all(|a| !others.contains(&a.sid.to_string())));
}

#[tokio::test]
async fn discovery_can_be_turned_off() {
    let (app, r) = connect_env(2, false).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();

    let resp = r.connect(&app, &main).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        summary(&r.accounts().await),
        vec![(connect.clone(), connect, AccountStatus::Active)]
    );
    assert!(!app
        .sim
        .requests()
        .iter()
        .any(|q| q.path == "/2010-04-01/Accounts.json"));
}

#[tokio::test]
async fn forged_and_revoked_sids_are_refused_and_nothing_is_stored() {
    let (app, r) = connect_env(0, true).await;
    let forged = "AC0123456789abcdef0123456789abcdef";
    let revoked = app.sim.main_account_sids()[1].clone();
    app.sim.revoke(&revoked);

    for account in [forged, revoked.as_str()] {
        let state = r.begin().await;
        let resp = r
            .authorize(&format!("AccountSid={account}&state={state}"), Some(&state))
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{account}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Twilio did not confirm this authorization"));
        assert!(!html.contains(account), "the page does not echo the sid");
    }

    assert!(r.accounts().await.is_empty());
    assert!(r
        .metrics()
        .await
        .contains("callback=\"authorize\",outcome=\"not_granted\"} 2\n"));
}

#[tokio::test]
async fn malformed_sids_and_bad_states_are_400_before_the_api_is_asked() {
    let (app, r) = connect_env(0, true).await;
    let good = app.sim.main_account_sids()[0].clone();
    let state = r.begin().await;
    let cases: Vec<(String, Option<&str>)> = vec![
        // Malformed or missing sids.
        (
            format!("AccountSid=ACnot-a-sid&state={state}"),
            Some(&state),
        ),
        (
            format!("AccountSid=CN{}&state={state}", &good[2..]),
            Some(&state),
        ),
        (format!("state={state}"), Some(&state)),
        (
            format!("AccountSid={good}&AccountSid={good}&state={state}"),
            Some(&state),
        ),
        // State mismatch, missing state, missing cookie.
        (format!("AccountSid={good}&state=forged"), Some(&state)),
        (format!("AccountSid={good}"), Some(&state)),
        (format!("AccountSid={good}&state={state}"), None),
        (format!("AccountSid={good}&state="), Some("")),
    ];
    for (query, cookie) in &cases {
        let resp = r.authorize(query, *cookie).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query} {cookie:?}");
    }

    assert!(r.accounts().await.is_empty());
    assert!(
        app.sim.requests().is_empty(),
        "nothing reached the API: {:?}",
        app.sim.requests()
    );
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("outcome=\"bad_request\"} 4\n"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"bad_state\"} 4\n"), "{metrics}");
}

#[tokio::test]
async fn a_denied_authorization_shows_not_connected_and_stores_nothing() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let state = r.begin().await;

    let location = consent(&app, &state, &main, "deny").await;
    let query = Url::parse(&location).unwrap().query().unwrap().to_owned();
    assert_eq!(query, "error=unauthorized_client");
    let resp = r.authorize(&query, Some(&state)).await;

    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Your Twilio account was not connected"));
    assert!(r.accounts().await.is_empty());
}

#[tokio::test]
async fn repeated_authorization_is_idempotent_and_reactivates_a_deauthorized_grant() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    let cn = app.sim.config().connect_app_sid.clone();

    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(summary(&r.accounts().await), tree(&app, &main));

    app.sim.revoke(&connect);
    assert_eq!(
        r.deauthorize(&connect, &cn, true, Signing::Valid).await,
        200
    );
    assert!(r.all_are(AccountStatus::Deauthorized).await);

    // Authorizing again restores the grant on Twilio's side and here.
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    let accounts = r.accounts().await;
    assert_eq!(summary(&accounts), tree(&app, &main));
    assert!(accounts
        .iter()
        .all(|a| a.status_reason.is_none() && a.deauthorized_at.is_none()));
}

#[tokio::test]
async fn a_grant_whose_accounts_twilio_lists_too_slowly_is_connected_alone_and_said_so() {
    // Every API answer takes 2.5 s, and a callback may take 4 s: proving the grant fits, then
    // listing its accounts would not (the answer would be a timeout, the grant registered).
    let limits = ReceiverLimits {
        request_timeout: std::time::Duration::from_secs(4),
        ..ReceiverLimits::default()
    };
    let sim = SimConfig {
        subaccounts: 2,
        ..slowed(std::time::Duration::from_millis(2500), small_sim())
    };
    let (app, r) = connect_env_from(sim, true, limits).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();

    let answer = r.connect(&app, &main).await;

    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "connected?accounts=1");
    let accounts = r.accounts().await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].sid.as_str(), connect);
    assert_eq!(accounts[0].status, AccountStatus::Active);
}

#[tokio::test]
async fn a_forged_callback_naming_a_users_main_account_registers_nothing() {
    // A user's main account never consented: only the Connect subaccount Twilio creates for
    // the app answers to our token, so the grant check refuses the main account's sid.
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let state = r.begin().await;

    let answer = r
        .authorize(&format!("AccountSid={main}&state={state}"), Some(&state))
        .await;

    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(r.accounts().await.is_empty());
}

/// Our token is our own account's credential, so the API accepts it for our account and its
/// subaccounts without any grant: with the owner's sid configured, an authorization naming it
/// (refused before the API is asked) or an account it owns is refused and stores nothing.
/// (The simulator answers our token only for Connect grants; here the owner is played by a
/// user's main account, whose Connect account the API reports as owned by it.)
#[tokio::test]
async fn the_owners_own_account_and_its_subaccounts_are_refused() {
    let cfg = SimConfig {
        subaccounts: 1,
        ..small_sim()
    };
    let (app, r) = connect_env_owned(cfg, true, ReceiverLimits::default(), |app| {
        Some(app.sim.main_account_sids()[0].clone())
    })
    .await;
    let owner = app.sim.main_account_sids()[0].clone();

    let resp = r.connect(&app, &owner).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let state = r.begin().await;
    let before = app.sim.requests().len();
    let resp = r
        .authorize(&format!("AccountSid={owner}&state={state}"), Some(&state))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.sim.requests().len(), before, "the API was not asked");

    assert!(r.accounts().await.is_empty());
    assert!(r
        .metrics()
        .await
        .contains("callback=\"authorize\",outcome=\"own_account\"} 2\n"));
    let other = app.sim.main_account_sids()[1].clone();
    assert_eq!(
        r.connect(&app, &other).await.status(),
        StatusCode::SEE_OTHER
    );
}
