// Command noetl-api serves catalog, executions, events, commands, the worker registry and
// orchestration. `noetl-api migrate` applies the schema migrations; `noetl-api certs`
// writes development certificates for internal mTLS.
package main

import (
	"context"
	"os"

	"github.com/noetl/controlplane/services/api/internal/app"
	"github.com/noetl/controlplane/shared/cli"
)

func main() {
	cli.Main(cli.Program{
		Name:    "noetl-api",
		Summary: "catalog, executions, events, commands, worker registry and orchestration",
		Commands: []cli.Command{
			cli.Serve("the api", app.LoadConfig, app.Run),
			{Name: "migrate", Args: "[up|status]", Summary: "apply the schema migrations (up, the default) or list applied and pending ones (status)", Run: migrate},
			cli.Certs(nil),
			cli.Healthcheck(app.DefaultPort, nil),
		},
	})
}

func migrate(ctx context.Context, args []string) error {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "up"):
		return cli.WithConfig(app.LoadConfig, func(ctx context.Context, cfg app.Config) error { return app.Migrate(ctx, cfg, os.Stdout) })(ctx)
	case len(args) == 1 && args[0] == "status":
		return cli.WithConfig(app.LoadConfig, func(ctx context.Context, cfg app.Config) error { return app.MigrateStatus(ctx, cfg, os.Stdout) })(ctx)
	default:
		return cli.Usagef("migrate: want `migrate`, `migrate up` or `migrate status`, got %q", args)
	}
}
