// Command noetl-broker serves cross-region credential resolution for peer regions.
package main

import (
	"github.com/noetl/controlplane/services/broker/internal/app"
	"github.com/noetl/controlplane/shared/cli"
)

func main() {
	cli.Main(cli.Program{
		Name:    "noetl-broker",
		Summary: "cross-region credential resolution for peer regions",
		Commands: []cli.Command{
			cli.Serve("the broker", app.LoadConfig, app.Run),
			cli.Healthcheck(app.DefaultPort, nil),
		},
	})
}
