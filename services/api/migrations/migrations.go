// Package migrations is the api's schema history: the tables the api owns (catalog,
// execution, event, command, outbox, runtime, result_store, transient, schedule and the
// resource kinds), applied by `noetl-api migrate` or NOETL_AUTO_MIGRATE.
package migrations

import "embed"

import "github.com/noetl/controlplane/shared/pg"

//go:embed *.sql
var files embed.FS

// Set is the api's history. Legacy maps the versions of the single history that every
// service shared before (0001_base, 0002_executions, 0004_write_path_indexes,
// 0005_loop_iteration_results) to the files here that carry the api's part of them.
var Set = pg.MigrationSet{
	Service: "api",
	Files:   files,
	Legacy:  map[int]int{1: 1, 2: 2, 4: 3, 5: 4},
}
