CREATE TABLE IF NOT EXISTS event (
    execution_id BIGINT NOT NULL,
    event_id     BIGINT NOT NULL,
    PRIMARY KEY (execution_id, event_id)
);
CREATE TABLE IF NOT EXISTS credential (id BIGINT PRIMARY KEY DEFAULT snowflake_id(), name TEXT NOT NULL UNIQUE);
