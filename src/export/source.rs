//! What differs between the resources on the way from the API to the partition.

use chrono::NaiveDate;

use super::PAGE_SIZE;
use crate::batch::AppendRow;
use crate::decode::calls::Call;
use crate::decode::usage_records::UsageRecord;
use crate::decode::Record;
use crate::domain::AccountSid;
use crate::fetch::PageUri;

/// What differs between resources on the way from the API to the partition.
pub(super) trait Source {
    type Rec<'a>: Record<'a> + AppendRow;
    /// More records than one day of one account can hold; a window that pages past them
    /// fails ([`FetchError::TooManyPages`]).
    const MAX_RECORDS: u64;
    /// Whether an honest server may answer the query with records of the day after its last
    /// (an upper bound it may read as inclusive). A list of such records alone then leaves
    /// the span's days empty; any other record outside the span fails it
    /// ([`ExportError::NothingInRange`](super::ExportError::NothingInRange)).
    const DAY_AFTER_MAY_ANSWER: bool;
    /// The first page of the query for the days `first` through `last`.
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri;
    /// The partition day of a record, as days since 1970-01-01.
    fn day_of(rec: &Self::Rec<'_>) -> Option<i32>;
    /// What makes a record unique within its partition.
    fn identity<'r>(rec: &'r Self::Rec<'_>) -> std::borrow::Cow<'r, str>;
    /// The account a record says it belongs to.
    fn account_of<'r>(rec: &'r Self::Rec<'_>) -> Option<&'r str>;
}

pub(super) struct CallsSource;

impl Source for CallsSource {
    type Rec<'a> = Call<'a>;
    /// Ten million calls: one account starting 115 calls every second of the day.
    const MAX_RECORDS: u64 = 10_000_000;
    /// `StartTime<` is strict, but older Twilio texts word the bound "on or before midnight
    /// of this date" (`docs/twilio-api.md` §4.1).
    const DAY_AFTER_MAY_ANSWER: bool = true;

    /// Calls that started on `first` through `last` (UTC): `StartTime>` is inclusive,
    /// `StartTime<` strict (`docs/twilio-api.md` §4.1). Rows outside the days are dropped
    /// by [`Source::day_of`], so a server that reads the bounds differently cannot put a row in
    /// the wrong partition.
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri {
        let next = last.succ_opt().unwrap_or(last);
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Calls.json"),
            &[
                ("StartTime>", first.to_string()),
                ("StartTime<", next.to_string()),
                ("PageSize", page_size.clamp(1, PAGE_SIZE).to_string()),
            ],
        )
    }

    fn day_of(rec: &Call<'_>) -> Option<i32> {
        rec.start_time
            .map(|us| us.div_euclid(86_400_000_000) as i32)
    }

    fn identity<'r>(rec: &'r Call<'_>) -> std::borrow::Cow<'r, str> {
        std::borrow::Cow::Borrowed(&rec.sid)
    }

    fn account_of<'r>(rec: &'r Call<'_>) -> Option<&'r str> {
        rec.account_sid.as_deref()
    }
}

pub(super) struct UsageSource;

impl Source for UsageSource {
    type Rec<'a> = UsageRecord<'a>;
    /// One record per usage category and day; Twilio has some 650 categories.
    const MAX_RECORDS: u64 = 10_000;
    /// `EndDate` is the last day itself, inclusive by its definition.
    const DAY_AFTER_MAY_ANSWER: bool = false;

    /// One record per category for each day from `first` through `last`. `IncludeSubaccounts=false` because every account
    /// is exported on its own: including subaccounts would count their usage twice
    /// (`docs/twilio-api.md` §5).
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri {
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Usage/Records/Daily.json"),
            &[
                ("StartDate", first.to_string()),
                ("EndDate", last.to_string()),
                ("IncludeSubaccounts", "false".to_owned()),
                ("PageSize", page_size.clamp(1, PAGE_SIZE).to_string()),
            ],
        )
    }

    fn day_of(rec: &UsageRecord<'_>) -> Option<i32> {
        rec.start_date
    }

    /// A category once per account: should a server include subaccounts anyway, their
    /// records are distinct rows, not duplicates.
    fn identity<'r>(rec: &'r UsageRecord<'_>) -> std::borrow::Cow<'r, str> {
        match &rec.account_sid {
            Some(account) => std::borrow::Cow::Owned(format!("{account}/{}", rec.category)),
            None => std::borrow::Cow::Borrowed(&rec.category),
        }
    }

    fn account_of<'r>(rec: &'r UsageRecord<'_>) -> Option<&'r str> {
        rec.account_sid.as_deref()
    }
}
