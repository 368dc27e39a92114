-- Cheaper rows on the write path.
--
-- The event result's shape (an object with a string "status" and at most "reference" and
-- "context", both objects) is checked by the api before every insert (eventlog's
-- ResultShapeError, also what the projector answers 422 with). As a table CHECK it was
-- evaluated again on every inserted row, about 6 % of PostgreSQL's CPU under load.
ALTER TABLE event DROP CONSTRAINT IF EXISTS chk_event_result_shape;

-- Lost-worker recovery looks for CLAIMED commands and their workers. Indexed on
-- (status, updated_at), every activity mark on a running command (updated_at) changed an
-- indexed column, so no command update was HOT. Indexed on worker_id with the same
-- predicate, an activity mark changes no indexed column and is a HOT update; the sweep
-- still reads only the claimed commands (few: those in flight) and filters their age.
DROP INDEX IF EXISTS idx_command_claimed;
CREATE INDEX IF NOT EXISTS idx_command_claimed_worker ON command (worker_id) WHERE status = 'CLAIMED';
