// Package apitest seeds the api's tables for the tests of the api's packages, so that
// a test of one route does not have to go through the routes that create its rows.
//
// It imports none of the api's packages, so that every one of them can use it.
package apitest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/noetl/controlplane/shared/ids"
	"github.com/noetl/controlplane/shared/testkit"
)

// Execution inserts a catalog row and an execution of it whose event sequence already
// stands at lastSeq, with ids from gen; it returns both ids.
func Execution(t testing.TB, s *testkit.Schema, gen *ids.Generator, lastSeq int64) (execID, catalogID int64) {
	t.Helper()
	catalogID, _ = gen.Next()
	execID, _ = gen.Next()
	testkit.InsertCatalog(t, s, catalogID, fmt.Sprint("p", catalogID), "x")
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO execution (execution_id, catalog_id, path, last_seq) VALUES ($1, $2, 'p', $3)`,
		execID, catalogID, lastSeq); err != nil {
		t.Fatalf("insert execution: %v", err)
	}
	return execID, catalogID
}

// PendingCommands lists the event ids of an execution's unclaimed commands, oldest first.
func PendingCommands(t testing.TB, s *testkit.Schema, execID int64) []int64 {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT event_id FROM command WHERE execution_id = $1 AND status = 'PENDING' ORDER BY event_id`, execID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
