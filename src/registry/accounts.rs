//! Connected accounts: who is exported, through which credential, and whether the grant holds.

use std::fmt;
use std::str::FromStr;

use super::{now_text, parsed, Registry, RegistryError};
use crate::domain::AccountSid;
use serde::{Serialize, Serializer};

use crate::fetch::AccountInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Exported.
    Active,
    /// The grant was revoked or the credentials stopped working; skipped by exports.
    Deauthorized,
    /// Its data was purged (`accounts purge`, or deauthorized for too long); skipped by
    /// exports until it is authorized again, which starts it afresh.
    Purged,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Deauthorized => "deauthorized",
            AccountStatus::Purged => "purged",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "deauthorized" => Ok(AccountStatus::Deauthorized),
            "purged" => Ok(AccountStatus::Purged),
            _ => Err(UnknownStatus),
        }
    }
}

/// A stored account status this version does not know.
#[derive(Debug)]
pub struct UnknownStatus;

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that tables can align it with `{:<12}`.
        f.pad(self.as_str())
    }
}

/// Twilio's own status of an account (the Account resource's `status`), as the API last
/// reported it. Twilio answers 401 for the data of suspended and closed accounts, so exports
/// skip them; a status this code does not know is exported as if active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwilioStatus {
    Active,
    /// Twilio suspended it (unpaid bill, abuse); it may be reinstated.
    Suspended,
    /// Closed for good.
    Closed,
    /// A status Twilio added after this code was written, kept as sent.
    Other(String),
}

impl TwilioStatus {
    /// Reads the API's value; every value is accepted.
    pub fn parse(s: &str) -> Self {
        match s {
            "active" => TwilioStatus::Active,
            "suspended" => TwilioStatus::Suspended,
            "closed" => TwilioStatus::Closed,
            other => TwilioStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TwilioStatus::Active => "active",
            TwilioStatus::Suspended => "suspended",
            TwilioStatus::Closed => "closed",
            TwilioStatus::Other(s) => s,
        }
    }

    /// Whether exports read the account: not when Twilio suspended or closed it.
    pub fn exported(&self) -> bool {
        !matches!(self, TwilioStatus::Suspended | TwilioStatus::Closed)
    }
}

impl fmt::Display for TwilioStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for TwilioStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why an export leaves a registered account out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Our grant is gone (see [`AccountStatus::Deauthorized`]).
    Deauthorized,
    /// Twilio reports it suspended or closed.
    Twilio(TwilioStatus),
    /// Its data was purged (see [`AccountStatus::Purged`]).
    Purged,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Deauthorized => f.write_str("deauthorized"),
            Skip::Twilio(s) => write!(f, "{s} on Twilio"),
            Skip::Purged => f.write_str("purged"),
        }
    }
}

/// A registered account.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub sid: AccountSid,
    /// The sid used in Basic auth (with our token) to reach this account.
    pub credential_sid: AccountSid,
    pub status: AccountStatus,
    /// Why it is deauthorized, if it is.
    pub status_reason: Option<String>,
    /// Twilio's status of the account when the API was last asked; `None` if never.
    pub twilio_status: Option<TwilioStatus>,
    pub friendly_name: Option<String>,
    pub owner_account_sid: Option<String>,
    pub connected_at: String,
    pub verified_at: Option<String>,
    pub deauthorized_at: Option<String>,
}

impl Account {
    /// Why exports leave this account out, or `None` if they export it.
    pub fn skip(&self) -> Option<Skip> {
        match (&self.status, &self.twilio_status) {
            (AccountStatus::Deauthorized, _) => Some(Skip::Deauthorized),
            (AccountStatus::Purged, _) => Some(Skip::Purged),
            (AccountStatus::Active, Some(t)) if !t.exported() => Some(Skip::Twilio(t.clone())),
            (AccountStatus::Active, _) => None,
        }
    }
}

/// An account to register (or re-activate).
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub sid: AccountSid,
    pub credential_sid: AccountSid,
    pub friendly_name: Option<String>,
    pub owner_account_sid: Option<String>,
    /// Whether the API just confirmed the grant.
    pub verified: bool,
    /// Twilio's status of the account, if the API just reported it (an earlier one is kept
    /// otherwise).
    pub twilio_status: Option<TwilioStatus>,
}

impl NewAccount {
    /// An account the API just confirmed: `sid` read with `credential`'s Basic auth answered
    /// `info`. `accounts add` and `verify`, the Connect receiver and `demo` all register an
    /// account through this.
    pub fn confirmed(sid: AccountSid, credential: AccountSid, info: AccountInfo) -> Self {
        Self {
            sid,
            credential_sid: credential,
            friendly_name: info.friendly_name,
            owner_account_sid: info.owner_account_sid,
            verified: true,
            twilio_status: info.status.as_deref().map(TwilioStatus::parse),
        }
    }

    /// An account registered without asking the API (`accounts add --no-verify`), reached
    /// with its own sid.
    pub fn unverified(sid: AccountSid) -> Self {
        Self {
            credential_sid: sid.clone(),
            sid,
            friendly_name: None,
            owner_account_sid: None,
            verified: false,
            twilio_status: None,
        }
    }
}

const COLUMNS: &str = "sid, credential_sid, status, status_reason, twilio_status, friendly_name, owner_account_sid, connected_at, verified_at, deauthorized_at";

/// An `accounts` row as stored.
#[derive(sqlx::FromRow)]
struct AccountRow {
    sid: String,
    credential_sid: String,
    status: String,
    status_reason: Option<String>,
    twilio_status: Option<String>,
    friendly_name: Option<String>,
    owner_account_sid: Option<String>,
    connected_at: String,
    verified_at: Option<String>,
    deauthorized_at: Option<String>,
}

impl TryFrom<AccountRow> for Account {
    type Error = RegistryError;
    fn try_from(r: AccountRow) -> Result<Self, RegistryError> {
        Ok(Account {
            sid: parsed("account sid", r.sid)?,
            credential_sid: parsed("credential sid", r.credential_sid)?,
            status: parsed("account status", r.status)?,
            status_reason: r.status_reason,
            twilio_status: r.twilio_status.as_deref().map(TwilioStatus::parse),
            friendly_name: r.friendly_name,
            owner_account_sid: r.owner_account_sid,
            connected_at: r.connected_at,
            verified_at: r.verified_at,
            deauthorized_at: r.deauthorized_at,
        })
    }
}

/// A count of accounts per status.
#[derive(sqlx::FromRow)]
struct StatusCount {
    status: String,
    n: i64,
}

impl Registry {
    /// Registers an account, or re-activates and refreshes one already known.
    pub async fn upsert_account(&self, a: &NewAccount) -> Result<(), RegistryError> {
        let now = now_text();
        let verified_at = a.verified.then(|| now.clone());
        sqlx::query(
            "insert into accounts (sid, credential_sid, status, status_reason, friendly_name, owner_account_sid, connected_at, verified_at, deauthorized_at, created_at, updated_at, twilio_status)
             values ($1, $2, 'active', null, $3, $4, $5, $6, null, $5, $5, $7)
             on conflict (sid) do update set
               credential_sid = excluded.credential_sid,
               status = 'active', status_reason = null, deauthorized_at = null,
               friendly_name = coalesce(excluded.friendly_name, accounts.friendly_name),
               owner_account_sid = coalesce(excluded.owner_account_sid, accounts.owner_account_sid),
               verified_at = coalesce(excluded.verified_at, accounts.verified_at),
               twilio_status = coalesce(excluded.twilio_status, accounts.twilio_status),
               updated_at = excluded.updated_at",
        )
        .bind(a.sid.as_str())
        .bind(a.credential_sid.as_str())
        .bind(a.friendly_name.as_deref())
        .bind(a.owner_account_sid.as_deref())
        .bind(&now)
        .bind(verified_at.as_deref())
        .bind(a.twilio_status.as_ref().map(TwilioStatus::as_str))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks an account, and every account reached through it, deauthorized.
    /// Returns how many accounts changed.
    pub async fn deauthorize(&self, sid: &AccountSid, reason: &str) -> Result<u64, RegistryError> {
        self.deauthorize_unless_verified_since(sid, reason, None)
            .await
    }

    /// [`Registry::deauthorize`], unless `sid` was verified (authorized again) after `since`
    /// (an instant as stored): a revocation whose check raced a new authorization leaves the
    /// new grant alone. `None`: whenever it was verified.
    pub async fn deauthorize_unless_verified_since(
        &self,
        sid: &AccountSid,
        reason: &str,
        since: Option<&str>,
    ) -> Result<u64, RegistryError> {
        let now = now_text();
        let done = sqlx::query(
            "update accounts set status = 'deauthorized', status_reason = $2, deauthorized_at = $3, updated_at = $3
             where (sid = $1 or credential_sid = $1) and status = 'active'
               and ($4 is null or not exists (select 1 from accounts v where v.sid = $1 and v.verified_at > $4))",
        )
        .bind(sid.as_str())
        .bind(reason)
        .bind(&now)
        .bind(since)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records Twilio's status of an account, as the API just reported it.
    pub async fn set_twilio_status(
        &self,
        sid: &AccountSid,
        status: &TwilioStatus,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        sqlx::query("update accounts set twilio_status = $2, updated_at = $3 where sid = $1")
            .bind(sid.as_str())
            .bind(status.as_str())
            .bind(&now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes an account from the registry (its exported files stay). False if unknown.
    pub async fn remove_account(&self, sid: &AccountSid) -> Result<bool, RegistryError> {
        let done = sqlx::query("delete from accounts where sid = $1")
            .bind(sid.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, RegistryError> {
        let q = format!("select {COLUMNS} from accounts where sid = $1");
        let row: Option<AccountRow> = sqlx::query_as(&q)
            .bind(sid.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(Account::try_from).transpose()
    }

    /// How many accounts have each status, by status (for the receiver's metrics).
    pub async fn account_counts(&self) -> Result<Vec<(String, u64)>, RegistryError> {
        let rows: Vec<StatusCount> = sqlx::query_as(
            "select status, count(*) as n from accounts group by status order by status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.status, u64::try_from(r.n).unwrap_or_default()))
            .collect())
    }

    /// Every registered account, by sid.
    pub async fn accounts(&self) -> Result<Vec<Account>, RegistryError> {
        let q = format!("select {COLUMNS} from accounts order by sid");
        let rows: Vec<AccountRow> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
        rows.into_iter().map(Account::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::instant_text;

    #[tokio::test]
    async fn a_revocation_checked_before_a_new_authorization_leaves_it_alone() {
        let (_dir, registry) = crate::registry::temporary().await;
        let sid = AccountSid::parse(&format!("AC{}", "2".repeat(32))).unwrap();
        let verified = |sid: &AccountSid| NewAccount {
            verified: true,
            ..NewAccount::unverified(sid.clone())
        };
        let before = instant_text(chrono::Utc::now() - chrono::TimeDelta::seconds(5));
        registry.upsert_account(&verified(&sid)).await.unwrap();

        // Its check began before the account was (again) verified: nothing changes.
        let done = registry.deauthorize_unless_verified_since(&sid, "revoked", Some(&before));
        assert_eq!(done.await.unwrap(), 0);
        let status = registry.account(&sid).await.unwrap().unwrap().status;
        assert_eq!(status, AccountStatus::Active);

        // Begun after it: the account is marked.
        let after = instant_text(chrono::Utc::now() + chrono::TimeDelta::seconds(5));
        let done = registry.deauthorize_unless_verified_since(&sid, "revoked", Some(&after));
        assert_eq!(done.await.unwrap(), 1);
        let status = registry.account(&sid).await.unwrap().unwrap().status;
        assert_eq!(status, AccountStatus::Deauthorized);
    }
}
