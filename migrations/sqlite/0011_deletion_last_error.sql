-- Why a pending deletion could not be completed the last time it was tried (a file the store
-- cannot delete, a key it cannot list); null once done, or before the first attempt failed.
alter table deletions add column last_error text;
