// Command noetl is the control plane's command-line client (cli/README.md).
package main

import "context"
import "os"

import "github.com/noetl/controlplane/cli/internal/commands"
import "github.com/noetl/controlplane/shared/cli"
import "github.com/noetl/controlplane/shared/version"

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	code := commands.Run(ctx, os.Args[1:], commands.StdIO(), version.Version)
	stop()
	os.Exit(code)
}
