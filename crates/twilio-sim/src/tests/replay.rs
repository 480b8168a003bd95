//! `SimConfig::cache_pages`: a repeated request gets the kept page, until the clock moves or
//! a grant is revoked; credentials still decide.

use chrono::TimeDelta;

use super::{calls_path, config, start};
use crate::SimConfig;

#[tokio::test]
async fn kept_pages_are_served_again_until_the_clock_moves_or_a_grant_is_revoked() {
    let app = start(SimConfig {
        cache_pages: true,
        ..config(2, 2, 200)
    })
    .await;
    let (a, b) = (
        app.sim.account_sids()[0].clone(),
        app.sim.account_sids()[1].clone(),
    );
    let newest = format!("{}?PageSize=5", calls_path(&a));
    let (status, first) = app.get(&a, &newest).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(app.get(&a, &newest).await, (200, first.clone()));
    assert_eq!(
        app.sim.requests().len(),
        2,
        "both requests reach the simulator"
    );

    // Other credentials are not answered from a's page.
    let (status, _) = app.get(&b, &newest).await;
    assert_eq!(status, 401, "b may not read a's calls");

    // A moved clock brings newer calls: the kept page is forgotten.
    app.sim.advance(TimeDelta::hours(6));
    let (status, later) = app.get(&a, &newest).await;
    assert_eq!(status, 200, "{later}");
    assert_ne!(later["calls"], first["calls"], "six more hours of calls");

    // A revoked grant answers 401 again, however often the page was served.
    app.sim.revoke(&a);
    let (status, _) = app.get(&a, &newest).await;
    assert_eq!(status, 401);
    app.stop().await;
}
