// Command noetl-api serves catalog, executions, events, commands, the worker registry and
// orchestration. `noetl-api migrate` applies the schema migrations and exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/noetl/controlplane/services/api/internal/app"
)

func main() {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noetl-api:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := app.Run
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		run = app.Migrate
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "noetl-api:", err)
		os.Exit(1)
	}
}
