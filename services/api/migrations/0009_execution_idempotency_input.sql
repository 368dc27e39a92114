-- A start with an idempotency key records a hash of the input it was asked to run (the
-- payload, canonical JSON, SHA-256 in hex). A later start of the same key without a
-- parent that asks for another input is refused (409) instead of silently answering the
-- first execution (docs/engine.md, "Failure and the end of a run"). NULL: a row started
-- without a key, or by a version that did not record it; such a row is not compared.
ALTER TABLE execution ADD COLUMN IF NOT EXISTS idempotency_input TEXT;
