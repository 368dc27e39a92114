package publicapi

import "encoding/json"
import "testing"

func TestNewExecutionStatus(t *testing.T) {
	t.Parallel()
	step := "load"
	tests := []struct {
		status string
		want   string
	}{
		{StatusRunning, `{"execution_id":42,"status":"RUNNING","current_step":"load","progress":{"total_steps":3,"completed_steps":1,"running_steps":1,"failed_steps":0,"cancelled_steps":0},"is_cancelled":false,"completed":false,"failed":false}`},
		{StatusCompleted, `{"execution_id":42,"status":"COMPLETED","current_step":"load","progress":{"total_steps":3,"completed_steps":1,"running_steps":1,"failed_steps":0,"cancelled_steps":0},"is_cancelled":false,"completed":true,"failed":false}`},
		{StatusFailed, `{"execution_id":42,"status":"FAILED","current_step":"load","progress":{"total_steps":3,"completed_steps":1,"running_steps":1,"failed_steps":0,"cancelled_steps":0},"is_cancelled":false,"completed":false,"failed":true}`},
		{StatusCancelled, `{"execution_id":42,"status":"CANCELLED","current_step":"load","progress":{"total_steps":3,"completed_steps":1,"running_steps":1,"failed_steps":0,"cancelled_steps":0},"is_cancelled":true,"completed":false,"failed":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			t.Parallel()
			st := NewExecutionStatus(int64(42), tc.status, &step, Progress{TotalSteps: 3, CompletedSteps: 1, RunningSteps: 1})
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
			if Terminal(tc.status) != (tc.status != StatusRunning) {
				t.Errorf("Terminal(%q) = %v", tc.status, Terminal(tc.status))
			}
		})
	}
}

func TestExecutionStatusDecodes(t *testing.T) {
	t.Parallel()
	const body = `{"execution_id":42,"status":"FAILED","current_step":null,"progress":{"total_steps":2,"completed_steps":1,"running_steps":0,"failed_steps":1},"is_cancelled":false,"completed":false,"failed":true}`
	var st ExecutionStatus[json.Number]
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	want := ExecutionStatus[json.Number]{
		ExecutionID: "42", Status: StatusFailed,
		Progress: Progress{TotalSteps: 2, CompletedSteps: 1, FailedSteps: 1}, Failed: true,
	}
	if st != want {
		t.Errorf("decoded %+v, want %+v", st, want)
	}
}

func TestTerminalUnknown(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "running", "completed", "PENDING"} {
		if Terminal(s) {
			t.Errorf("Terminal(%q) = true", s)
		}
	}
}
