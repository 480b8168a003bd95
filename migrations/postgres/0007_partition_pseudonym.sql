-- How a partition's phone numbers and names were written: null in clear (as the API sent
-- them), else the fingerprint of the key whose HMAC-SHA256 pseudonyms it holds
-- (--pseudonymize). Never the key itself. Exports refuse to mix modes within an
-- (account, resource) until the other partitions are exported again.
alter table partitions add column pseudonym text;
