// Command noetl is the control plane's command-line client (cli/README.md).
package main

import "context"
import "os"
import "os/signal"
import "syscall"

import "github.com/noetl/controlplane/cli/internal/commands"
import "github.com/noetl/controlplane/shared/version"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.Run(ctx, os.Args[1:], commands.StdIO(), version.Version)
	stop()
	os.Exit(code)
}
