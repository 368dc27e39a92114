package e2e

import "testing"

// PostgreSQL as a playbook author uses it on the reference worker: a table with an enum
// array filled from a list param, date and timestamp arrays read back as the scalar
// columns print, and a syntax error half way through a script that a step continues
// past, whose data says which statement, line and column PostgreSQL pointed at.
func TestToolPostgresTypesAndErrorPlace(t *testing.T) {
	_, c, ctx := startSuiteWithScratchCredential(t, "types_pg")
	if err := c.register(ctx, toolPostgresTypes); err != nil {
		t.Fatalf("register: %v", err)
	}
	runEndData(ctx, t, c, "tools/postgres_types", nil,
		`{"days":["2026-01-02","infinity"],"moods":["sad","ok"],"place":[2,2,15],"stamps":["2026-01-02T03:04:05.5"],"state":"42601"}`)
}

const toolPostgresTypes = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: postgres_types, path: tools/postgres_types}
workflow:
  - step: start
    tool:
      kind: postgres
      auth: types_pg
      command: |
        DROP TABLE IF EXISTS visits; DROP TYPE IF EXISTS mood;
        CREATE TYPE mood AS ENUM ('ok', 'sad');
        CREATE TABLE visits (id text, moods mood[], days date[], stamps timestamp[])
    next: [fill]
  - step: fill
    tool:
      kind: postgres
      auth: types_pg
      query: INSERT INTO visits VALUES ($1, $2, '{2026-01-02,infinity}', ARRAY['2026-01-02 03:04:05.5'::timestamp])
      params: ["{{ execution_id }}", ["sad", "ok"]]
    next: [read]
  - step: read
    tool:
      kind: postgres
      auth: types_pg
      query: SELECT moods, days, stamps FROM visits WHERE id = $1
      params: ["{{ execution_id }}"]
    next: [broken]
  - step: broken
    spec: {on_error: continue}
    tool:
      kind: postgres
      auth: types_pg
      command: |
        SELECT 1;
        INSERT INTO visits (id)
          VALUES ('x',, 'y');
        SELECT 2
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        moods: "{{ read.rows[0].moods }}"
        days: "{{ read.rows[0].days }}"
        stamps: "{{ read.rows[0].stamps }}"
        state: "{{ broken.sqlstate }}"
        place: ["{{ broken.statement }}", "{{ broken.line }}", "{{ broken.character }}"]
`
