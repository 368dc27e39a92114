// Package noop is the `noop` tool: it runs nothing and returns its `result` as the step's
// data ({} without one), so a playbook can route, join and echo values through steps
// that do no work.
package noop

import "context"

import "github.com/noetl/controlplane/services/worker/internal/tool"

// Tool is the noop tool.
type Tool struct{}

// New returns the noop tool.
func New() Tool { return Tool{} }

// Run returns `result` as rendered.
func (Tool) Run(_ context.Context, call tool.Call) tool.Result {
	data, ok := call.Config["result"]
	if !ok {
		data = map[string]any{}
	}
	return tool.Result{Status: tool.Success}.WithData(data)
}
