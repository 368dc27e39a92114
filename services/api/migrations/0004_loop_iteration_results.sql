-- Loop iteration results live on their command rows (command.result, the column the
-- upstream schema already has), not in the execution snapshot, so the snapshot does not
-- grow with every finished iteration. command.loop_event_id names the loop entry (its
-- step.enter event id); when the loop finishes, the pass reads the entry's results back
-- through this index, whose size is only the loop commands'.
CREATE INDEX IF NOT EXISTS idx_command_loop_entry ON command (execution_id, loop_event_id)
    WHERE loop_event_id IS NOT NULL;
