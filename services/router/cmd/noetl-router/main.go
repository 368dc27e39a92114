// Command noetl-router serves the public NoETL surface on port 8082 and forwards each
// path prefix to the api, wallet or broker service.
package main

import "github.com/noetl/controlplane/services/router/internal/app"
import "github.com/noetl/controlplane/shared/cli"

func main() {
	cli.Main(cli.Service("noetl-router", "the public surface: forwards each path prefix to api, wallet or broker", app.DefaultPort,
		cli.Serve("the router", app.LoadConfig, app.Run)))
}
