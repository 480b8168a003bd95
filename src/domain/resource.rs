//! The exported resources and the partition keys of the output layout
//! (`{resource}/account_sid={sid}/date={YYYY-MM-DD}/part-0.parquet`, README "Output").

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::AccountSid;

/// What is exported.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Resource {
    Calls,
    UsageRecords,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Calls, Resource::UsageRecords];

    /// The name on the command line and in job files (`calls`, `usage-records`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Resource::Calls => "calls",
            Resource::UsageRecords => "usage-records",
        }
    }

    /// The name in the output layout, the database and `schemas/` (`calls`, `usage_records`).
    pub fn table_name(self) -> &'static str {
        match self {
            Resource::Calls => "calls",
            Resource::UsageRecords => "usage_records",
        }
    }
}

/// A name that is not one of the exported resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource {name:?}: expected calls or usage-records")]
pub struct UnknownResource {
    name: String,
}

impl FromStr for Resource {
    type Err = UnknownResource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "calls" => Ok(Resource::Calls),
            "usage-records" | "usage_records" => Ok(Resource::UsageRecords),
            // Cut long input so that the message stays readable.
            other => Err(UnknownResource {
                name: other.chars().take(40).collect(),
            }),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that tables can align it with `{:<14}`.
        f.pad(self.cli_name())
    }
}

/// One partition of the output: the unit that is exported and replaced as a whole.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PartitionKey {
    pub resource: Resource,
    pub account: AccountSid,
    pub day: NaiveDate,
}

impl PartitionKey {
    /// The partition's directory, relative to the output root.
    pub fn dir(&self) -> String {
        format!(
            "{}/account_sid={}/date={}",
            self.resource.table_name(),
            self.account,
            self.day.format("%Y-%m-%d")
        )
    }

    /// The partition's only file. The name is deterministic so that a re-export replaces it.
    pub fn object_key(&self) -> String {
        format!("{}/part-0.parquet", self.dir())
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.resource, self.account, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_key_is_hive_layout() {
        let key = PartitionKey {
            resource: Resource::UsageRecords,
            account: AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").unwrap(),
            day: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        };
        assert_eq!(
            key.object_key(),
            "usage_records/account_sid=AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/date=2026-03-01/part-0.parquet"
        );
    }

    #[test]
    fn resource_names_round_trip() {
        for r in Resource::ALL {
            assert_eq!(r.cli_name().parse::<Resource>().unwrap(), r);
            assert_eq!(r.table_name().parse::<Resource>().unwrap(), r);
        }
        assert_eq!(
            "messages".parse::<Resource>().unwrap_err().to_string(),
            "unknown resource \"messages\": expected calls or usage-records"
        );
    }
}
