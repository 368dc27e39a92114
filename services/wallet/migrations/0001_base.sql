-- The wallet's base schema: stored credentials, the keychain cache and the secret audit
-- trail. Column names and types follow the upstream NoETL DDL. Differences, each on
-- purpose:
--   * tables are unqualified: the migrator sets search_path to NOETL_SCHEMA;
--   * secret_audit exists from the start (upstream created it at server startup);
--   * keychain.catalog_id carries no foreign key to the api's catalog table, and
--     credential.id no default from the api's snowflake_id(): each service owns its
--     tables, and the wallet can be migrated before the api (the wallet mints its ids).

CREATE TABLE IF NOT EXISTS credential (
    id             BIGINT PRIMARY KEY,
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
    catalog_id          BIGINT NOT NULL,
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
