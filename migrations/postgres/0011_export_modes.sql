-- The partitions of a resource by mode: those of another mode than an export writes are found
-- by ranges of this index, whatever the number of accounts.
create index partitions_resource_pseudonym on partitions (resource, pseudonym);
-- The pseudonym mode a resource whose partitions must not mix modes (calls) is being written
-- in: null in clear, else the key's fingerprint. Recording a partition locks the row first;
-- a partition of another mode is recorded only by switching it, which needs every partition
-- of the old mode to be replaced by the recording export (see ARCHITECTURE).
create table export_modes (resource text primary key, pseudonym text);
insert into export_modes (resource, pseudonym) values ('calls',
  (select pseudonym from partitions where resource = 'calls' order by exported_at desc limit 1));
