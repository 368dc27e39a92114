-- A small history for the migrator's own tests: a column default that calls a function
-- of the schema, a foreign key, and the table names the tests look for.
CREATE SEQUENCE IF NOT EXISTS snowflake_seq;
CREATE OR REPLACE FUNCTION snowflake_id() RETURNS BIGINT AS $$
    SELECT nextval('snowflake_seq');
$$ LANGUAGE sql;

CREATE TABLE IF NOT EXISTS resource (name VARCHAR PRIMARY KEY);
INSERT INTO resource (name) VALUES ('playbook') ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS catalog (
    catalog_id BIGINT PRIMARY KEY DEFAULT snowflake_id(),
    path       TEXT NOT NULL,
    version    SMALLINT NOT NULL,
    kind       VARCHAR NOT NULL REFERENCES resource(name),
    content    TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    UNIQUE (path, version)
);
CREATE TABLE IF NOT EXISTS runtime (runtime_id BIGINT PRIMARY KEY, name TEXT NOT NULL);
