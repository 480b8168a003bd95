-- Registries of thousands of accounts (benches/many_accounts.rs: 2,000 accounts with a year
-- of partitions each). Postgres sums the partitions for `status` with a parallel scan that an
-- index does not beat, so only the runs get one.

-- Every export looks for runs still marked running (to mark those of dead processes
-- abandoned); there are few among the runs of years.
create index runs_running on runs (id) where outcome = 'running';
