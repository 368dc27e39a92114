package commands

import "strconv"
import "time"

import "github.com/spf13/cobra"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/cli/internal/render"

// workerRows is the table of `noetl workers`: what an operator checks first when
// commands wait (is a pool there, ready, with room, still beating).
func workerRows(list []client.WorkerPool) render.Rows {
	r := render.Rows{Header: []string{"NAME", "STATUS", "CAPACITY", "HEARTBEAT", "INTERVAL", "RUNTIME_ID"}}
	for _, p := range list {
		capacity, interval := "-", "-"
		if p.Capacity != nil {
			capacity = strconv.FormatInt(*p.Capacity, 10)
		}
		if p.HeartbeatInterval != nil {
			interval = time.Duration(*p.HeartbeatInterval * float64(time.Second)).String()
		}
		r.Add(p.Name, p.Status, capacity, render.Or(p.Heartbeat), interval, string(p.RuntimeID))
	}
	return r
}

func workersCmd(g *globals) *cobra.Command {
	var status, name string
	cmd := listCmd(g, "workers", "List the registered worker pools, by name", func(cmd *cobra.Command, c *client.Client) ([]client.WorkerPool, error) {
		return c.WorkerPools(cmd.Context(), status, name)
	}, workerRows)
	cmd.Flags().StringVar(&status, "status", "", "only pools in this status (ready, offline, ...: what the pool reports, matched exactly)")
	cmd.Flags().StringVar(&name, "name", "", "only pools whose name contains this text")
	return cmd
}
