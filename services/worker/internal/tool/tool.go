// Package tool holds what every tool shares: the call a tool receives, the result it
// returns (upstream's ToolResult on the wire, plus the failure details policy rules read),
// and the registry that picks a tool by kind. It knows no tool in particular.
package tool

import "context"
import "encoding/base64"
import "fmt"
import "sort"
import "strconv"
import "strings"
import "time"

// Status is a tool outcome, lower case as upstream sends it.
type Status string

// Outcomes.
const (
	Success Status = "success"
	Error   Status = "error"
	Timeout Status = "timeout"
)

// Fault describes a failed outcome for policy rules (`output.error`).
type Fault struct {
	// Kind classifies the failure: connection, timeout, http, rate_limit, auth,
	// not_found, client_error, server_error, database, python, shell, config,
	// cancelled, child_failed; and protocol, set by the executor (not a tool) when the
	// control plane's claim answer cannot be read.
	Kind      string
	Retryable bool
	// Code is a machine-readable code: an SQLSTATE, "HTTP_404", an exit code.
	Code string
	// StatusCode is the HTTP status of an http failure, 0 otherwise.
	StatusCode int
}

// HTTPInfo is the response an http tool got (`output.http`).
type HTTPInfo struct {
	Status  int
	Headers map[string]any
}

// Result is what a tool returns. Every failure is a Result with Status Error or
// Timeout, never a Go error: policy rules see all of them.
type Result struct {
	Status Status
	Data   any
	// HasData is false when the tool produced no data (the ToolResult omits `data`).
	HasData  bool
	Error    string
	Fault    *Fault
	HTTP     *HTTPInfo
	Stdout   *string
	Stderr   *string
	ExitCode *int
	Duration time.Duration
}

// OK reports a success.
func (r Result) OK() bool { return r.Status == Success }

// ErrorKind is the kind of a failure: its Fault's Kind, else "timeout" for a timeout
// and "error" for any other failure; "" for a success. Policy rules read it as
// output.error.kind and the outcome events carry it as the ToolResult's error_kind.
func (r Result) ErrorKind() string {
	switch {
	case r.OK():
		return ""
	case r.Fault != nil && r.Fault.Kind != "":
		return r.Fault.Kind
	case r.Status == Timeout:
		return "timeout"
	}
	return "error"
}

// Failed builds an error result.
func Failed(kind string, retryable bool, format string, args ...any) Result {
	return Result{Status: Error, Error: fmt.Sprintf(format, args...), Fault: &Fault{Kind: kind, Retryable: retryable}}
}

// WithData returns r carrying data.
func (r Result) WithData(data any) Result {
	r.Data, r.HasData = data, true
	return r
}

// Base64 is raw bytes as data: {base64, size}, the form a tool gives bytes that are
// binary or not UTF-8, which a JSON string cannot carry unmangled (each invalid byte
// would become U+FFFD).
func Base64(raw []byte) map[string]any {
	return map[string]any{"base64": base64.StdEncoding.EncodeToString(raw), "size": int64(len(raw))}
}

// Wire is the ToolResult JSON object of the protocol: {status, data?, error?, stdout?,
// stderr?, exit_code?, duration_ms}. Optional fields are omitted when unset.
func (r Result) Wire() map[string]any {
	m := map[string]any{"status": string(r.Status), "duration_ms": r.Duration.Milliseconds()}
	if r.HasData {
		m["data"] = r.Data
	}
	if r.Error != "" {
		m["error"] = r.Error
	}
	if r.Stdout != nil {
		m["stdout"] = *r.Stdout
	}
	if r.Stderr != nil {
		m["stderr"] = *r.Stderr
	}
	if r.ExitCode != nil {
		m["exit_code"] = int64(*r.ExitCode)
	}
	return m
}

// Exec identifies the command a tool runs for.
type Exec struct {
	ExecutionID int64
	Step        string
	CommandID   string
	WorkerID    string
	// ServerURL is the control plane the command came from (its notification's
	// server_url): child playbooks and result lookups go there.
	ServerURL string
	// Invocation names this call of the tool within its command: "#<n>" for the n-th
	// execution of a single tool (policy retries count up), "<label>#<n>" for the n-th
	// execution of a pipeline task (retries and jumps back count up). A command run
	// again from the start (handed back, or its worker lost) repeats the same names, so
	// a tool with an effect outside the worker can key it to make the repeat adopt the
	// first effect, while a retry gets a name of its own.
	Invocation string
}

// Invocation builds Exec.Invocation: label is "" for a single tool.
func Invocation(label string, n int) string { return label + "#" + strconv.Itoa(n) }

// ExecutionIDString is the execution id in decimal.
func (e Exec) ExecutionIDString() string { return strconv.FormatInt(e.ExecutionID, 10) }

// Call is one invocation of a tool.
type Call struct {
	Kind string
	// Config is the tool's configuration, rendered, with credentials applied and
	// without `kind` and `spec`.
	Config map[string]any
	// Vars is the running template context (the command's render context, `ctx`,
	// pipeline variables); tools that expose it to user code (python) read it.
	Vars map[string]any
	Exec Exec
	// Secrets knows the secret values the command's credentials carried (nil: none). A
	// tool that hands a value to the control plane to be stored as written (a child's
	// workload) asks it first.
	Secrets Secrets
}

// Secrets tells whether a value holds a secret the command's credentials carried.
type Secrets interface {
	Holds(v any) bool
}

// Tool runs calls of one kind.
type Tool interface {
	Run(ctx context.Context, call Call) Result
}

// Registry maps kinds to tools.
type Registry map[string]Tool

// Kinds lists the registered kinds, sorted.
func (r Registry) Kinds() []string {
	out := make([]string, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Lookup finds the tool of a kind (case-insensitive).
func (r Registry) Lookup(kind string) (Tool, bool) {
	t, ok := r[strings.ToLower(strings.TrimSpace(kind))]
	return t, ok
}
