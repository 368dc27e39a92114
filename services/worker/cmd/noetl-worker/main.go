// Command noetl-worker is the reference worker: it takes commands from NATS JetStream,
// runs their tools (python, http, postgres, shell, noop, playbook, pipelines) and
// reports events to the control plane.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/noetl/controlplane/services/worker/internal/app"
)

func main() {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noetl-worker:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "noetl-worker:", err)
		os.Exit(1)
	}
}
