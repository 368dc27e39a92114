-- Wallet: a global keychain entry belongs to no execution. Its cache key leaves the
-- execution out, so every run of the catalog entry shares the row; earlier wallets kept
-- the execution_id of the run that wrote it first, which attributed the shared value to
-- that run (docs/wallet.md, "Keychain scopes"). Writes now store NULL; this clears the
-- rows written before.
UPDATE keychain SET execution_id = NULL WHERE scope_type = 'global' AND execution_id IS NOT NULL;
