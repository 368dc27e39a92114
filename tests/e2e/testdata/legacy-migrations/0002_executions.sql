-- Execution runtime (issue: execute, events, commands, orchestration, outbox).
--
-- execution: one row per execution. It is the lock that serialises orchestration passes
-- (SELECT ... FOR UPDATE), the per-execution event sequence counter (last_seq), the
-- status every read route reports, and the engine's incremental projection (state, as
-- folded up to state_seq), so a pass reads only the events that arrived since the last
-- one instead of re-folding the whole history.
CREATE TABLE IF NOT EXISTS execution (
    execution_id        BIGINT PRIMARY KEY,
    catalog_id          BIGINT NOT NULL REFERENCES catalog(catalog_id),
    path                TEXT,
    version             INTEGER,
    parent_execution_id BIGINT,
    status              TEXT NOT NULL DEFAULT 'RUNNING'
                        CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    last_seq            BIGINT NOT NULL DEFAULT 0,
    state_seq           BIGINT NOT NULL DEFAULT 0,
    state               JSONB,
    error               TEXT,
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_execution_started ON execution (started_at DESC, execution_id DESC);
CREATE INDEX IF NOT EXISTS idx_execution_catalog ON execution (catalog_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_execution_status ON execution (status, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_execution_parent ON execution (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_execution_path ON execution (lower(path));

-- Server-assigned, per-execution increasing order of every stored event (docs/decisions.md,
-- "Engine semantics", event order). NULL only for rows an external tool inserts through the projector.
ALTER TABLE event ADD COLUMN IF NOT EXISTS seq BIGINT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_event_exec_seq ON event (execution_id, seq);
CREATE INDEX IF NOT EXISTS idx_event_parent_event ON event (parent_event_id) WHERE parent_event_id IS NOT NULL;

-- command gains the columns lost-worker recovery needs: the claim deadline is derived
-- from the worker's heartbeat, max_attempts bounds re-claims.
ALTER TABLE command ADD COLUMN IF NOT EXISTS max_attempts INT NOT NULL DEFAULT 3;
ALTER TABLE command ADD COLUMN IF NOT EXISTS command_key TEXT;
CREATE INDEX IF NOT EXISTS idx_command_claimed ON command (status, updated_at) WHERE status = 'CLAIMED';

-- Results too large to inline in an event (the worker offloads above ~100 KiB through
-- PUT /api/result/{execution_id}).
CREATE TABLE IF NOT EXISTS result_store (
    ref_id       BIGINT PRIMARY KEY,
    execution_id BIGINT NOT NULL,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL DEFAULT 'execution',
    source_step  TEXT,
    data         JSONB NOT NULL,
    bytes        BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    media_type   TEXT NOT NULL DEFAULT 'application/json',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS idx_result_store_execution ON result_store (execution_id, name);
