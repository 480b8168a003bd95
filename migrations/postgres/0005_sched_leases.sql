-- Leases and runs name the process that holds or runs them, so that a process on the same
-- host can tell that it died (and take its leases over at once, and show its runs as
-- abandoned); job runs are kept per account, so that every shard, and every account skipped
-- because another process held it, is due on its own.

-- the holder's host name, process id, and "boot id/pid namespace/start time" (null where the
-- holder could not tell: then only expiry frees its leases)
alter table leases add column host text;
alter table leases add column pid bigint;
alter table leases add column process text;

alter table runs add column host text;
alter table runs add column pid bigint;
alter table runs add column process text;

create table job_accounts (
    job text not null,
    account_sid text not null,
    -- the instant the job last exported this account for: due again after the next fire time
    last_due_at text not null,
    run_id bigint,
    outcome text not null,
    created_at text not null,
    updated_at text not null,
    primary key (job, account_sid)
);
