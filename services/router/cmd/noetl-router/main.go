// Command noetl-router serves the public NoETL surface on port 8082 and forwards each
// path prefix to the api, wallet or broker service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/noetl/controlplane/services/router/internal/app"
)

func main() {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noetl-router:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "noetl-router:", err)
		os.Exit(1)
	}
}
