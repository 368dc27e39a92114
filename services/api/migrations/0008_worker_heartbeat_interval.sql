-- A worker pool may report its heartbeat interval when it registers. The claim-lease
-- checks wait at least a few of that worker's intervals (docs/engine.md, "Claim
-- leases"): a worker that heart-beats less often than NOETL_EAGER_ACK_SECONDS would
-- otherwise have an eagerly dispatched command handed back before its next heartbeat
-- could acknowledge it. NULL is a worker that reported none (an older or third-party
-- worker), which keeps the configured bounds.
ALTER TABLE runtime ADD COLUMN IF NOT EXISTS heartbeat_interval_seconds DOUBLE PRECISION
    CHECK (heartbeat_interval_seconds > 0);
