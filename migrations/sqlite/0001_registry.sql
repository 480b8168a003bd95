-- Connected accounts, export runs and the partitions they wrote.
-- Times are RFC 3339 UTC text, days are YYYY-MM-DD text (the same on both backends).

create table accounts (
    sid text primary key,
    -- the sid whose Basic-auth credentials (with our token) reach this account
    credential_sid text not null,
    status text not null,
    status_reason text,
    friendly_name text,
    owner_account_sid text,
    connected_at text not null,
    verified_at text,
    deauthorized_at text,
    created_at text not null,
    updated_at text not null
);

create table runs (
    id integer primary key autoincrement,
    command text not null,
    detail text,
    started_at text not null,
    finished_at text,
    outcome text not null,
    windows_exported bigint not null default 0,
    windows_failed bigint not null default 0,
    rows_exported bigint not null default 0,
    files_written bigint not null default 0,
    error text,
    created_at text not null,
    updated_at text not null
);

create table partitions (
    account_sid text not null,
    resource text not null,
    day text not null,
    rows_exported bigint not null,
    bytes bigint not null,
    -- null when the day had no rows and so has no file
    object_key text,
    run_id bigint,
    exported_at text not null,
    created_at text not null,
    updated_at text not null,
    primary key (account_sid, resource, day)
);

create table window_failures (
    account_sid text not null,
    resource text not null,
    day text not null,
    error text not null,
    run_id bigint,
    failed_at text not null,
    created_at text not null,
    updated_at text not null,
    primary key (account_sid, resource, day)
);
