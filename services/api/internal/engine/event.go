package engine

import "sort"
import "strconv"
import "strings"

import "github.com/noetl/controlplane/shared/publicapi"

// Event is a stored event as the engine sees it. Events the engine emits are complete
// rows except CreatedAt, which the pass driver stamps.
type Event struct {
	Seq           int64          `json:"seq"`
	EventID       int64          `json:"event_id"`
	ExecutionID   int64          `json:"execution_id"`
	Type          string         `json:"event_type"`
	Step          string         `json:"node_name,omitempty"`
	NodeID        string         `json:"node_id,omitempty"`
	NodeType      string         `json:"node_type,omitempty"`
	Status        string         `json:"status,omitempty"`
	Context       any            `json:"context,omitempty"`
	Result        any            `json:"result,omitempty"`
	Meta          map[string]any `json:"meta,omitempty"`
	Error         string         `json:"error,omitempty"`
	ParentEventID int64          `json:"parent_event_id,omitempty"`
	WorkerID      string         `json:"worker_id,omitempty"`
}

// Event types.
const (
	TypePlaybookStarted   = "playbook_started"
	TypePlaybookCompleted = "playbook.completed"
	TypePlaybookFailed    = "playbook.failed"
	TypePlaybookCancelled = "playbook.cancelled"
	TypeStepEnter         = "step.enter"
	TypeStepSkipped       = "step.skipped"
	TypeStepExit          = "step.exit"
	// TypeStepCancelled closes a step that was still running when its execution ended
	// (cancel, finalize, or a failure that left a loop without its remaining
	// iterations). Only the engine writes it, right before the terminal event.
	TypeStepCancelled    = "step.cancelled"
	TypeCtxUpdated       = "ctx.updated"
	TypeCommandIssued    = "command.issued"
	TypeCommandClaimed   = "command.claimed"
	TypeCommandStarted   = "command.started"
	TypeCallDone         = "call.done"
	TypeCallError        = "call.error"
	TypeCommandCompleted = "command.completed"
	TypeCommandFailed    = "command.failed"
)

// Execution statuses: the API's four values, which the public contract defines.
const (
	StatusRunning   = publicapi.StatusRunning
	StatusCompleted = publicapi.StatusCompleted
	StatusFailed    = publicapi.StatusFailed
	StatusCancelled = publicapi.StatusCancelled
)

// TerminalStatus maps a terminal event type, in every upstream spelling, to the status
// it sets; ok is false for other types.
func TerminalStatus(eventType string) (status string, ok bool) {
	status, ok = terminalTypes[eventType]
	return status, ok
}

var terminalTypes = map[string]string{
	"playbook.completed": StatusCompleted, "playbook_completed": StatusCompleted, "execution.completed": StatusCompleted,
	"playbook.failed": StatusFailed, "playbook_failed": StatusFailed, "execution.failed": StatusFailed,
	"playbook.cancelled": StatusCancelled, "playbook_cancelled": StatusCancelled, "execution.cancelled": StatusCancelled,
}

// TerminalTypes lists every spelling TerminalStatus accepts, sorted (for queries that
// look for an execution's terminal event).
func TerminalTypes() []string {
	out := make([]string, 0, len(terminalTypes))
	for t := range terminalTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// IsCompletion reports whether a worker event completes a command successfully.
func IsCompletion(t string) bool {
	switch t {
	case TypeCommandCompleted, "action_completed", "step_completed", "iterator_completed":
		return true
	}
	return false
}

// IsFailure reports whether a worker event fails a command.
func IsFailure(t string) bool {
	switch t {
	case TypeCommandFailed, "action_failed", "step_failed":
		return true
	}
	return false
}

// Actionable reports whether an event must trigger an orchestration pass: anything that
// finishes a command (or a legacy step.exit a worker posts).
func Actionable(t string) bool {
	return IsCompletion(t) || IsFailure(t) || t == TypeStepExit
}

// CommandKeyOf finds the command id a worker event refers to: the worker's
// context.command_id (stored as result.context.command_id), else meta.command_id, else
// result.data.command_id. Numbers compare as their decimal digits.
func CommandKeyOf(ev Event) string {
	if rm, ok := ev.Result.(map[string]any); ok {
		if c, ok := rm["context"].(map[string]any); ok {
			if k := keyString(c["command_id"]); k != "" {
				return k
			}
		}
	}
	if k := keyString(ev.Meta["command_id"]); k != "" {
		return k
	}
	if rm, ok := ev.Result.(map[string]any); ok {
		if d, ok := rm["data"].(map[string]any); ok {
			return keyString(d["command_id"])
		}
	}
	return ""
}

func keyString(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// ErrorText extracts the error message of a failure event: result.context.error, then
// result.error, then meta.error, then the error column.
func ErrorText(ev Event) string {
	if rm, ok := ev.Result.(map[string]any); ok {
		if c, ok := rm["context"].(map[string]any); ok {
			if s := textOf(c["error"]); s != "" {
				return s
			}
		}
		if s := textOf(rm["error"]); s != "" {
			return s
		}
	}
	if s := textOf(ev.Meta["error"]); s != "" {
		return s
	}
	return ev.Error
}

// textOf is an error value's text: a string, or an object's "message"; "" otherwise
// (null included).
func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		if s, ok := t["message"].(string); ok {
			return s
		}
	}
	return ""
}
