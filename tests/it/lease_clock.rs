//! Leases expire by the registry's `LeaseClock`: tests move it past an expiry instead of
//! waiting for one. A lease not renewed is taken over once expired; a renewed one is not; a
//! renewal that finds its lease taken over marks the account lost.

use std::sync::Arc;
use std::time::Duration;

use twilio_export::domain::{AccountSid, Resource};
use twilio_export::export::LeaseScope;
use twilio_export::registry::{LeaseClock, LeaseGrant, LeaseHolder, Registry};
use twilio_export::scheduler::leasing::Renewal;

use crate::support::*;

const SID: &str = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";

fn sid() -> AccountSid {
    AccountSid::parse(SID).unwrap()
}

/// A fresh SQLite registry's URL in `dir`.
fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("registry.db").display())
}

/// Two processes on one database: the first holds a lease; the second, whose clock is moved
/// past the expiry, takes it over, and the first finds it gone.
async fn an_unrenewed_lease_is_taken_over_once_expired(url: &str) {
    let clock = LeaseClock::system();
    let first_process = Registry::connect(url).await.unwrap();
    let second_process = Registry::connect(url)
        .await
        .unwrap()
        .with_lease_clock(clock.clone());
    let (first, second) = (LeaseHolder::named("first"), LeaseHolder::named("second"));
    let (sid, calls, ttl) = (sid(), Resource::Calls, Duration::from_secs(120));

    let taken = first_process.try_lease(&sid, calls, &first, ttl).await;
    assert_eq!(taken.unwrap(), LeaseGrant::Granted);
    let early = second_process.try_lease(&sid, calls, &second, ttl).await;
    assert_eq!(
        early.unwrap(),
        LeaseGrant::Busy {
            holder: "first".to_owned()
        }
    );
    assert!(!second_process.leases().await.unwrap()[0].expired);

    clock.advance(ttl + Duration::from_secs(1));
    assert!(second_process.leases().await.unwrap()[0].expired);
    let late = second_process.try_lease(&sid, calls, &second, ttl).await;
    assert_eq!(late.unwrap(), LeaseGrant::Granted);
    assert!(!first_process
        .holds_lease(&sid, calls, &first)
        .await
        .unwrap());
    assert!(
        !first_process
            .renew_lease(&sid, calls, &first, ttl)
            .await
            .unwrap(),
        "a lease taken over is not renewed"
    );
    assert!(first_process
        .holds_lease(&sid, calls, &second)
        .await
        .unwrap());
}

#[tokio::test]
async fn an_unrenewed_lease_is_taken_over_once_its_expiry_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    an_unrenewed_lease_is_taken_over_once_expired(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn an_unrenewed_lease_is_taken_over_once_its_expiry_has_passed_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    an_unrenewed_lease_is_taken_over_once_expired(&url).await;
}

/// The renewal extends a lease from its registry's clock, so a lease whose first expiry has
/// passed stays held; once another process (whose clock reads an hour later) takes it over,
/// the renewal marks the account lost and does not take it back.
#[tokio::test]
async fn a_renewed_lease_stays_held_and_a_renewal_finds_a_taken_lease_lost() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let clock = LeaseClock::system();
    let registry = Registry::connect(&url)
        .await
        .unwrap()
        .with_lease_clock(clock.clone());
    let holder = LeaseHolder::new();
    // Renewed every 2 s; what is checked leaves 6 s of margin to a slow machine.
    let (sid, calls, ttl) = (sid(), Resource::Calls, Duration::from_secs(6));
    let taken = registry.try_lease(&sid, calls, &holder, ttl).await;
    assert_eq!(taken.unwrap(), LeaseGrant::Granted);
    let scope = Arc::new(LeaseScope::new(holder.clone()));
    let renewal = Renewal::start(
        registry.clone(),
        scope.clone(),
        calls,
        vec![sid.clone()],
        ttl,
    );

    clock.advance(ttl + Duration::from_secs(1));
    let reg = &registry;
    eventually("the renewal to extend the expired lease", || async move {
        (!reg.leases().await.unwrap()[0].expired).then_some(())
    })
    .await;
    let other = LeaseHolder::named("other");
    let meanwhile = registry.try_lease(&sid, calls, &other, ttl).await;
    assert!(
        !meanwhile.unwrap().is_granted(),
        "a renewed lease was taken"
    );

    let later = LeaseClock::system();
    later.advance(Duration::from_secs(3600));
    let other_process = Registry::connect(&url)
        .await
        .unwrap()
        .with_lease_clock(later);
    let takeover = other_process.try_lease(&sid, calls, &other, ttl).await;
    assert_eq!(takeover.unwrap(), LeaseGrant::Granted);
    let (scope_ref, sid_ref) = (&scope, &sid);
    eventually("the renewal to find the lease lost", || async move {
        scope_ref.is_lost(sid_ref).then_some(())
    })
    .await;
    renewal.stop().await;
    assert!(registry.holds_lease(&sid, calls, &other).await.unwrap());
    assert!(!registry.holds_lease(&sid, calls, &holder).await.unwrap());
}
