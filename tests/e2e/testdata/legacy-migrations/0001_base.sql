-- Base schema. Column names and types follow the upstream DDL
-- (noetl/noetl:noetl/database/ddl/postgres/schema_ddl.sql@5f9a07d1) so that tools written
-- for the upstream schema still read it. Differences, each on purpose:
--   * tables are unqualified: the migrator sets search_path to NOETL_SCHEMA;
--   * noetl.event is not range-partitioned and has a plain index on event_id, because
--     claims look commands up by event_id alone (upstream scanned every partition);
--   * noetl.command is not hash-partitioned, so (event_id) can be unique;
--   * secret_audit exists from the start (upstream created it at server startup).

CREATE SEQUENCE IF NOT EXISTS snowflake_seq;

-- The DB-side id function of upstream (<<23 layout). The suite mints every id in the
-- application (<<22 layout, docs/decisions.md "Ids and sharding"); this stays only as a column default for rows
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

CREATE TABLE IF NOT EXISTS runtime (
    runtime_id   BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('worker_pool', 'server_api', 'broker')),
    uri          TEXT,
    status       TEXT NOT NULL,
    labels       JSONB,
    capabilities JSONB,
    capacity     INTEGER,
    runtime      JSONB,
    heartbeat    TIMESTAMPTZ NOT NULL DEFAULT now(),
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

CREATE TABLE IF NOT EXISTS credential (
    id             BIGINT PRIMARY KEY DEFAULT snowflake_id(),
    name           TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    data_encrypted TEXT NOT NULL,
    schema         JSONB,
    meta           JSONB,
    tags           TEXT[],
    description    TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_credential_type ON credential (type);

CREATE TABLE IF NOT EXISTS keychain (
    cache_key           TEXT PRIMARY KEY,
    keychain_name       TEXT NOT NULL,
    catalog_id          BIGINT NOT NULL REFERENCES catalog(catalog_id),
    credential_type     TEXT NOT NULL,
    cache_type          TEXT NOT NULL CHECK (cache_type IN ('secret', 'token')),
    scope_type          TEXT NOT NULL CHECK (scope_type IN ('local', 'global', 'shared')),
    execution_id        BIGINT,
    parent_execution_id BIGINT,
    data_encrypted      TEXT NOT NULL,
    schema              JSONB,
    expires_at          TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    accessed_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    access_count        INTEGER DEFAULT 0,
    auto_renew          BOOLEAN DEFAULT false,
    renew_config        JSONB
);
CREATE INDEX IF NOT EXISTS idx_keychain_execution ON keychain (execution_id) WHERE execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_keychain_parent_execution ON keychain (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_keychain_expires ON keychain (expires_at);
CREATE INDEX IF NOT EXISTS idx_keychain_type ON keychain (cache_type, scope_type);
CREATE INDEX IF NOT EXISTS idx_keychain_name_catalog ON keychain (keychain_name, catalog_id);
CREATE INDEX IF NOT EXISTS idx_keychain_catalog ON keychain (catalog_id);

CREATE TABLE IF NOT EXISTS secret_audit (
    audit_id            BIGINT PRIMARY KEY,
    occurred_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    credential          TEXT NOT NULL,
    operation           TEXT NOT NULL,
    outcome             TEXT NOT NULL,
    worker_id           TEXT,
    execution_id        BIGINT,
    parent_execution_id BIGINT,
    server_region       TEXT,
    broker_region       TEXT,
    kek_version         TEXT,
    notes               TEXT
);
CREATE INDEX IF NOT EXISTS secret_audit_credential_time ON secret_audit (credential, occurred_at DESC);
CREATE INDEX IF NOT EXISTS secret_audit_execution ON secret_audit (execution_id) WHERE execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS secret_audit_time ON secret_audit (occurred_at DESC);
