-- The wallet mints every credential id itself. Schemas migrated under the single history
-- that preceded per-service histories gave credential.id a default that calls the api's
-- snowflake_id(); the wallet's own history does not depend on the api's objects.
ALTER TABLE credential ALTER COLUMN id DROP DEFAULT;
