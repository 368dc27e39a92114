// Command noetl-broker serves cross-region credential resolution for peer regions.
package main

import (
	"context"

	"github.com/noetl/controlplane/services/broker/internal/app"
	"github.com/noetl/controlplane/shared/cli"
)

func main() {
	cli.Main(cli.Program{
		Name:    "noetl-broker",
		Summary: "cross-region credential resolution for peer regions",
		Commands: []cli.Command{
			{Name: "serve", Summary: "serve the broker", Run: cli.NoArgs("serve", serve)},
			cli.Healthcheck(app.DefaultPort, nil),
		},
	})
}

func serve(ctx context.Context) error {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		return cli.ConfigError(err)
	}
	return app.Run(ctx, cfg)
}
