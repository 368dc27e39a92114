// Command noetl-broker serves cross-region credential resolution for peer regions.
package main

import "github.com/noetl/controlplane/services/broker/internal/app"
import "github.com/noetl/controlplane/shared/cli"

func main() {
	cli.Main(cli.Service("noetl-broker", "cross-region credential resolution for peer regions", app.DefaultPort,
		cli.Serve("the broker", app.LoadConfig, app.Run)))
}
