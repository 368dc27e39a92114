-- Wallet: a keychain entry written without expires_at/expires_in never expires.
-- Upstream declared expires_at NOT NULL, so such a write failed with a 500
-- (services/wallet/README.md, "Deliberate differences from upstream"); readers treat NULL as "valid, no expiry".
ALTER TABLE keychain ALTER COLUMN expires_at DROP NOT NULL;

-- Keyset pagination of GET /api/internal/secret-audit orders by (occurred_at, audit_id).
CREATE INDEX IF NOT EXISTS secret_audit_time_id ON secret_audit (occurred_at DESC, audit_id DESC);
DROP INDEX IF EXISTS secret_audit_time;
