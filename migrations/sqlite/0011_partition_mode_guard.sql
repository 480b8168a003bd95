-- The partitions of a resource by mode: those of another mode than an export writes are found
-- by ranges of this index, whatever the number of accounts.
create index partitions_resource_pseudonym on partitions (resource, pseudonym);
-- One row per resource whose partitions must not mix pseudonym modes: recording a partition of
-- it locks the row first, so that checking the others and recording are one step.
create table partition_mode_locks (resource text primary key);
insert into partition_mode_locks (resource) values ('calls');
