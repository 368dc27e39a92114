-- The api's base schema: the catalog, the event log, commands, the runtime registry,
-- transient variables, the outbox and schedules. Column names and types follow the
-- upstream NoETL DDL so that tools written for the upstream schema still read it.
-- Differences, each on purpose:
--   * tables are unqualified: the migrator sets search_path to NOETL_SCHEMA;
--   * event is not range-partitioned and has a plain index on event_id, because
--     claims look commands up by event_id alone (upstream scanned every partition);
--   * command is not hash-partitioned, so (event_id) can be unique.
-- The wallet's tables are the wallet's own history (services/wallet/migrations).

CREATE SEQUENCE IF NOT EXISTS snowflake_seq;

-- The DB-side id function of upstream (<<23 layout). The suite mints every id in the
-- application (<<22 layout, see docs/engine.md); this stays only as a column default for rows
-- that external tools insert without an id.
CREATE OR REPLACE FUNCTION snowflake_id() RETURNS BIGINT AS $$
DECLARE
    our_epoch BIGINT := 1704067200000;
    seq_id BIGINT;
    now_ms BIGINT;
    shard_id INT := 1;
BEGIN
    SELECT nextval('snowflake_seq') % 1024 INTO seq_id;
    SELECT FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) INTO now_ms;
    RETURN ((now_ms - our_epoch) << 23) | ((shard_id & 31) << 18) | (seq_id & 262143);
END;
$$ LANGUAGE plpgsql;

CREATE TABLE IF NOT EXISTS resource (
    name VARCHAR PRIMARY KEY,
    meta JSONB
);
INSERT INTO resource (name) VALUES ('playbook'), ('credential'), ('mcp'), ('agent'), ('memory')
ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS catalog (
    catalog_id    BIGINT PRIMARY KEY DEFAULT snowflake_id(),
    path          TEXT NOT NULL,
    version       SMALLINT NOT NULL,
    kind          VARCHAR NOT NULL REFERENCES resource(name),
    content       TEXT,
    layout        JSONB,
    payload       JSONB,
    meta          JSONB,
    created_at    TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    credential_id INTEGER,
    UNIQUE (path, version)
);
CREATE INDEX IF NOT EXISTS idx_catalog_path ON catalog (path);

CREATE TABLE IF NOT EXISTS event (
    execution_id        BIGINT NOT NULL,
    catalog_id          BIGINT NOT NULL REFERENCES catalog(catalog_id),
    event_id            BIGINT NOT NULL,
    parent_event_id     BIGINT,
    parent_execution_id BIGINT,
    created_at          TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    event_type          VARCHAR,
    node_id             VARCHAR,
    node_name           VARCHAR,
    node_type           VARCHAR,
    status              VARCHAR,
    duration            DOUBLE PRECISION,
    context             JSONB,
    result              JSONB,
    meta                JSONB,
    error               TEXT,
    current_index       INTEGER,
    current_item        TEXT,
    worker_id           VARCHAR,
    distributed_state   VARCHAR,
    context_key         VARCHAR,
    context_value       TEXT,
    trace_component     JSONB,
    stack_trace         TEXT,
    tenant_id           TEXT NOT NULL DEFAULT 'default',
    organization_id     TEXT NOT NULL DEFAULT 'default',
    stream_id           TEXT,
    stream_version      BIGINT,
    aggregate_id        TEXT,
    aggregate_type      TEXT,
    schema_name         TEXT,
    schema_version      INTEGER NOT NULL DEFAULT 1,
    event_time          TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    producer            TEXT,
    causation_id        TEXT,
    correlation_id      TEXT,
    idempotency_key     TEXT,
    payload_ref         JSONB,
    envelope_checksum   TEXT,
    command_id          BIGINT,
    stage_id            BIGINT,
    frame_id            BIGINT,
    PRIMARY KEY (execution_id, event_id),
    CONSTRAINT chk_event_result_shape CHECK (
        result IS NULL OR (
            jsonb_typeof(result) = 'object'
            AND jsonb_typeof(result->'status') = 'string'
            AND (result - 'status' - 'reference' - 'context') = '{}'::jsonb
            AND (NOT result ? 'reference' OR jsonb_typeof(result->'reference') = 'object')
            AND (NOT result ? 'context' OR jsonb_typeof(result->'context') = 'object')
        )
    )
);
CREATE INDEX IF NOT EXISTS idx_event_event_id ON event (event_id);
CREATE INDEX IF NOT EXISTS idx_event_catalog_id ON event (catalog_id);
CREATE INDEX IF NOT EXISTS idx_event_type ON event (event_type);
CREATE INDEX IF NOT EXISTS idx_event_created_at ON event (created_at);
CREATE INDEX IF NOT EXISTS idx_event_parent_execution_id ON event (parent_execution_id);
CREATE INDEX IF NOT EXISTS idx_event_exec_type ON event (execution_id, event_type, event_id DESC);
CREATE INDEX IF NOT EXISTS idx_event_initialized ON event (event_id DESC)
    INCLUDE (execution_id, catalog_id, parent_execution_id, created_at)
    WHERE event_type IN ('playbook.initialized', 'playbook_started');
CREATE OR REPLACE VIEW event_log AS SELECT * FROM event;

CREATE TABLE IF NOT EXISTS command (
    command_id          BIGINT NOT NULL,
    event_id            BIGINT NOT NULL,
    execution_id        BIGINT NOT NULL,
    catalog_id          BIGINT NOT NULL,
    parent_execution_id BIGINT,
    parent_command_id   BIGINT,
    step_name           TEXT NOT NULL,
    tool_kind           TEXT,
    status              TEXT NOT NULL DEFAULT 'PENDING',
    worker_id           TEXT,
    claimed_at          TIMESTAMPTZ,
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    attempt             INT NOT NULL DEFAULT 1,
    context             JSONB,
    context_key         TEXT,
    loop_event_id       TEXT,
    iter_index          INT,
    meta                JSONB,
    result              JSONB,
    error               TEXT,
    latest_event_id     BIGINT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    stage_id            BIGINT,
    frame_id            BIGINT,
    PRIMARY KEY (execution_id, command_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_command_event_id ON command (event_id);
CREATE INDEX IF NOT EXISTS idx_command_exec_step ON command (execution_id, step_name);
CREATE INDEX IF NOT EXISTS idx_command_status ON command (status) WHERE status IN ('PENDING', 'CLAIMED');
CREATE INDEX IF NOT EXISTS idx_command_worker ON command (worker_id, updated_at) WHERE status = 'CLAIMED';

-- One row a registered worker pool, api replica or broker, keyed by (kind, name).
CREATE TABLE IF NOT EXISTS runtime (
    runtime_id   BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('worker_pool', 'server_api', 'broker')),
    uri          TEXT,
    status       TEXT NOT NULL,         -- as registered (active by default); offline once heartbeats stop
    labels       JSONB,                 -- as registered, passed on untouched
    capabilities JSONB,                 -- the tools the pool runs, as registered
    capacity     INTEGER,               -- commands the pool runs at once; NULL: not said
    runtime      JSONB,                 -- as registered; a worker's holds its sealing public key
    heartbeat    TIMESTAMPTZ NOT NULL DEFAULT now(),  -- last heartbeat or register
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_runtime_kind_name ON runtime (kind, name);
CREATE INDEX IF NOT EXISTS idx_runtime_status ON runtime (status);

CREATE TABLE IF NOT EXISTS transient (
    execution_id BIGINT NOT NULL,
    var_name     TEXT NOT NULL,
    var_type     TEXT NOT NULL CHECK (var_type IN ('user_defined', 'step_result', 'computed', 'iterator_state')),
    var_value    JSONB NOT NULL,
    source_step  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    accessed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    access_count INTEGER NOT NULL DEFAULT 0,
    expires_at   TIMESTAMPTZ,
    scope        TEXT DEFAULT 'execution' CHECK (scope IN ('step', 'execution', 'workflow', 'permanent')),
    PRIMARY KEY (execution_id, var_name)
);

CREATE TABLE IF NOT EXISTS outbox (
    outbox_id     BIGSERIAL PRIMARY KEY,
    execution_id  BIGINT,
    event_id      BIGINT NOT NULL,
    subject       TEXT,
    payload       JSONB NOT NULL,
    payload_bytes BYTEA,
    payload_codec TEXT NOT NULL DEFAULT 'arrow-feather',
    status        TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'IN_FLIGHT', 'PUBLISHED', 'FAILED')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    available_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_at     TIMESTAMPTZ,
    published_at  TIMESTAMPTZ,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (execution_id, event_id)
);
CREATE INDEX IF NOT EXISTS idx_outbox_pending ON outbox (status, available_at, outbox_id)
    WHERE status IN ('PENDING', 'FAILED');

CREATE TABLE IF NOT EXISTS schedule (
    schedule_id BIGINT PRIMARY KEY DEFAULT snowflake_id(),
    playbook_path TEXT,
    cron TEXT,
    enabled BOOLEAN NOT NULL DEFAULT true,
    meta JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
