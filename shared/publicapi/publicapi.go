// Package publicapi holds the parts of the public routes' JSON contract that the api
// (which encodes them) and the cli (which decodes them) share: the execution status
// values, the body of GET /api/executions/{id}/status and the head of an execution's
// list entry and detail. A body whose two sides differ (the cli keeps fewer fields, or
// prints them otherwise) stays with each side.
package publicapi

// Execution statuses: the four values the api reports for an execution.
const (
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Terminal reports a status after which nothing changes.
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// ExecutionStatus is GET /api/executions/{id}/status. completed is true when the status
// is COMPLETED; failed is true when it is FAILED or CANCELLED (the run did not finish
// its work), so a client polling for "done" checks completed || failed. is_cancelled
// tells the two failures apart.
//
// ID is the Go type of execution_id: the api encodes an int64 (a JSON number); the cli
// decodes into its own id type, which keeps ids as text.
type ExecutionStatus[ID any] struct {
	ExecutionID ID       `json:"execution_id"`
	Status      string   `json:"status"`
	CurrentStep *string  `json:"current_step"`
	Progress    Progress `json:"progress"`
	IsCancelled bool     `json:"is_cancelled"`
	Completed   bool     `json:"completed"`
	Failed      bool     `json:"failed"`
}

// NewExecutionStatus builds the status body, deriving completed, failed and is_cancelled
// from status.
func NewExecutionStatus[ID any](id ID, status string, currentStep *string, p Progress) ExecutionStatus[ID] {
	return ExecutionStatus[ID]{
		ExecutionID: id, Status: status, CurrentStep: currentStep, Progress: p,
		IsCancelled: status == StatusCancelled,
		Completed:   status == StatusCompleted,
		Failed:      status == StatusFailed || status == StatusCancelled,
	}
}

// Progress counts an execution's steps by phase. total_steps is the sum of the other
// four; cancelled_steps are the steps that were still running when the execution ended
// (a terminal execution has no running step).
type Progress struct {
	TotalSteps     int `json:"total_steps"`
	CompletedSteps int `json:"completed_steps"`
	RunningSteps   int `json:"running_steps"`
	FailedSteps    int `json:"failed_steps"`
	CancelledSteps int `json:"cancelled_steps"`
}
