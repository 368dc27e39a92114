// Command noetl-worker is the reference worker: it takes commands from NATS JetStream,
// runs their tools (python, http, postgres, shell, noop, playbook, pipelines) and
// reports events to the control plane.
package main

import "github.com/noetl/controlplane/services/worker/internal/app"
import "github.com/noetl/controlplane/shared/cli"

func main() {
	cli.Main(cli.Service("noetl-worker", "the reference worker: runs the commands of a pool", app.DefaultPort,
		cli.Serve("a worker pool's commands", app.LoadConfig, app.Run)))
}
