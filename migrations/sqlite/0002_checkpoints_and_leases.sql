-- Scheduled incremental exports (issue 5): a checkpoint per (account, resource), leases that
-- keep two processes from exporting the same (account, resource) at once, and the last run
-- of each job. Times are RFC 3339 UTC text, days YYYY-MM-DD text, as in 0001.

create table checkpoints (
    account_sid text not null,
    resource text not null,
    -- the last day fully exported: every window up to it succeeded after the day ended;
    -- null until one has
    day text,
    last_run_id bigint,
    -- when a scheduled run last exported every window it planned for this pair
    last_success_at text,
    -- rows the last scheduled run exported for this pair
    last_rows bigint not null default 0,
    -- the first failure of the last run that had one, cleared by the next full success
    last_error text,
    last_error_at text,
    created_at text not null,
    updated_at text not null,
    primary key (account_sid, resource)
);

create table leases (
    account_sid text not null,
    resource text not null,
    -- the process that holds it (pid and a random id)
    holder text not null,
    -- a holder renews before this; after it, anyone may take the lease over
    expires_at text not null,
    acquired_at text not null,
    created_at text not null,
    updated_at text not null,
    primary key (account_sid, resource)
);

create table job_runs (
    job text primary key,
    -- the instant the job last ran for: its schedule is due again after the next fire time
    last_due_at text not null,
    run_id bigint,
    outcome text not null,
    created_at text not null,
    updated_at text not null
);
