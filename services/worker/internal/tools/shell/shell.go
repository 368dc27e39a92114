// Package shell is the `shell` tool: a command run by a shell (sh -c), whose data is
// {exit_code, stdout, stderr}. A non-zero exit status is an error outcome.
package shell

import "context"
import "strings"

import "github.com/noetl/controlplane/services/worker/internal/proc"
import "github.com/noetl/controlplane/services/worker/internal/tool"

// Tool runs shell commands.
type Tool struct{}

// New returns the shell tool.
func New() Tool { return Tool{} }

// Run executes `command` with `shell` (default sh) in `cwd`, with `env` added to the
// environment, killed after `timeout_seconds` (or `timeout`).
func (Tool) Run(ctx context.Context, call tool.Call) tool.Result {
	cfg := call.Config
	command, ok, err := tool.String(cfg, "command", "script", "cmd")
	if err != nil {
		return tool.ConfigFailure("shell", err)
	}
	if !ok {
		return tool.ConfigFailure("shell", tool.Configf("command is required"))
	}
	if strings.ContainsRune(command, 0) {
		// No process argument can hold one: the start failed as "fork/exec /usr/bin/sh:
		// invalid argument", a process error blaming the shell.
		return tool.ConfigFailure("shell", tool.Configf("command holds a NUL byte, which no command line can"))
	}
	sh, _, err := tool.String(cfg, "shell")
	if err != nil {
		return tool.ConfigFailure("shell", err)
	}
	if sh == "" {
		sh = "sh"
	}
	opts, err := proc.ReadOptions(cfg)
	if err != nil {
		return tool.ConfigFailure("shell", err)
	}
	base, removeTemp, err := proc.TempDir(nil)
	if err != nil {
		return tool.Failed("process", false, "Process error: %v", err)
	}
	defer removeTemp()
	out := proc.Run(ctx, proc.Spec{Path: sh, Args: []string{"-c", command}, Dir: opts.Dir, Env: opts.Environ(base), Timeout: opts.Timeout})
	r := proc.Judge(out, "Shell command", "shell", opts.Timeout)
	if out.StartErr != nil {
		return r
	}
	return r.WithData(out.Streams(map[string]any{"exit_code": int64(out.ExitCode)}))
}
