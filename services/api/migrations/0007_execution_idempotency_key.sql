-- An execution may be started with an idempotency key: a second start with the same key
-- (under the same parent) answers the execution the first one created instead of
-- starting another. The worker's playbook tool keys its child by the parent command and
-- the tool call, so a command run again after its worker stopped or was lost waits for
-- the child it started before rather than starting a second one (docs/engine.md,
-- "Child executions started twice").
ALTER TABLE execution ADD COLUMN IF NOT EXISTS idempotency_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_execution_idempotency
    ON execution ((coalesce(parent_execution_id, 0)), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
