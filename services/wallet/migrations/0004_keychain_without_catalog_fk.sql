-- The wallet owns its tables and migrates on its own: keychain.catalog_id no longer
-- references the api's catalog table (schemas migrated under the single history that
-- preceded per-service histories still carry the constraint; fresh schemas never had it).
-- The wallet writes keychain rows only for catalog ids the api resolved for it.
ALTER TABLE keychain DROP CONSTRAINT IF EXISTS keychain_catalog_id_fkey;
