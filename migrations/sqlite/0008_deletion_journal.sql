-- The deletion journal: purges of an account (by `accounts purge`, or because it was
-- deauthorized long enough ago) and retention deletions of a job's old partitions. A row is
-- written (the intent) before anything is deleted and marked done, with what was deleted,
-- after; every export first completes the rows still pending, so a deletion interrupted by a
-- crash is finished by the next process. Times are RFC 3339 UTC text, days YYYY-MM-DD text.
create table deletions (
    id integer primary key autoincrement,
    account_sid text not null,
    -- calls or usage_records; null for every resource of the account
    resource text,
    -- the partitions of days before this one; null for every day
    before_day text,
    -- purge (accounts purge), deauthorized (--purge-deauthorized-after) or retention (a job's
    -- retention_days)
    reason text not null,
    -- the job whose retention asked for it
    job text,
    requested_at text not null,
    -- null while pending
    done_at text,
    -- what was deleted: partitions (files and recorded empty days) and their bytes
    partitions bigint not null default 0,
    bytes bigint not null default 0,
    created_at text not null,
    updated_at text not null
);

create index deletions_by_done_at on deletions (done_at);
