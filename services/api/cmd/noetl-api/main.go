// Command noetl-api serves catalog, executions, events, commands, the worker registry and
// orchestration. `noetl-api migrate` applies the api's schema migrations; `noetl-api certs`
// writes development certificates for internal mTLS.
package main

import "github.com/noetl/controlplane/services/api/internal/app"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/cli"
import "github.com/noetl/controlplane/shared/pg"

func main() {
	cli.Main(cli.Service("noetl-api", "catalog, executions, events, commands, worker registry and orchestration", app.DefaultPort,
		cli.Serve("the api", app.LoadConfig, app.Run),
		cli.Migrate(app.LoadConfig, func(c app.Config) pg.Config { return c.DB }, migrations.Set, nil),
		cli.Certs(nil),
	))
}
