// Command noetl-wallet serves credentials, the keychain, sealed delivery, KEK rotation and
// the secret audit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/noetl/controlplane/services/wallet/internal/app"
)

func main() {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noetl-wallet:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "noetl-wallet:", err)
		os.Exit(1)
	}
}
