-- Why a pending deletion could not be completed the last time it was tried (a file the store
-- cannot delete, a key it cannot list); null once done, or before the first attempt failed.
alter table deletions add column last_error text;

-- `status` shows each account's most recent done deletion of each reason.
create index deletions_by_account_reason on deletions (account_sid, reason, id);
