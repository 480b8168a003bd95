-- Twilio's own status of each account (active, suspended or closed) as the API last reported
-- it; null until the API was asked (accounts add --no-verify). Exports skip suspended and
-- closed accounts.
alter table accounts add column twilio_status text;

-- Records a run left out on purpose, summed over its windows: those the API returned for
-- another day (exported with that day's partition) and those repeated while paging (kept once).
alter table runs add column records_outside_window bigint not null default 0;
alter table runs add column records_duplicated bigint not null default 0;
