-- Claim leases.
--
-- A worker that lists the commands it holds in its heartbeat renews their claims; a
-- claimed command such a worker stops listing (and posts nothing for) lapses after
-- NOETL_COMMAND_LEASE_SECONDS and is made claimable again. The lease applies only to
-- workers that report what they hold: an older worker that heart-beats without the list
-- would otherwise lose every long-running command. reports_held records which kind of
-- worker the last heartbeat came from.
ALTER TABLE runtime ADD COLUMN IF NOT EXISTS reports_held BOOLEAN NOT NULL DEFAULT false;
