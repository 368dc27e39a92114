package watch

import "encoding/json"
import "testing"
import "time"

import "github.com/noetl/controlplane/cli/internal/client"

// A step in flight when the execution ends shows as cancelled with its clock stopped
// at the end, whether the log has the api's step.cancelled, only the terminal event (a
// log written before the api closed steps), or no terminal event at all (a log cut
// short; the status route says it ended). A worker's late outcome changes nothing.
func TestEndedExecutionStopsItsStepClocks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	ev := func(seq int64, typ, node string, after time.Duration, meta map[string]any) client.Event {
		raw, _ := json.Marshal(meta)
		return client.Event{Seq: seq, EventType: typ, NodeName: node, EventData: client.EventData{Meta: raw},
			CreatedAt: t0.Add(after).Format(time.RFC3339Nano)}
	}
	cmd := map[string]any{"command_id": "c1"}
	head := []client.Event{
		ev(1, "playbook_started", "p", 0, nil),
		ev(2, "step.enter", "slow", time.Second, nil),
		ev(3, "command.issued", "slow", time.Second, cmd),
		ev(4, "command.claimed", "slow", 2*time.Second, cmd),
	}
	closed := ev(5, "step.cancelled", "slow", 5*time.Second, nil)
	ended := ev(6, "playbook.cancelled", "playbook", 5*time.Second, nil)
	late := ev(7, "command.completed", "slow", time.Minute, nil)
	late.Result = json.RawMessage(`{"status":"COMPLETED","context":{"command_id":"c1"}}`)

	cases := []struct {
		name   string
		events []client.Event
		status string // from the status route (Ended)
	}{
		{"step.cancelled from the api", append(append([]client.Event{}, head...), closed, ended, late), ""},
		{"terminal event only", append(append([]client.Event{}, head...), ev(5, "playbook.cancelled", "playbook", 5*time.Second, nil), late), ""},
		{"log cut short", append(append([]client.Event{}, head...), ev(5, "call.done", "other", 5*time.Second, nil)), "CANCELLED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := NewModel()
			m.Apply(tc.events)
			m.Ended(tc.status, time.Time{})
			if m.Status != "CANCELLED" {
				t.Fatalf("status = %q", m.Status)
			}
			slow := m.byName["slow"]
			if slow == nil || slow.State != StateCancelled {
				t.Fatalf("slow = %+v", slow)
			}
			later := t0.Add(time.Hour)
			if got := StepElapsed(slow, later); got != 4*time.Second {
				t.Fatalf("slow elapsed an hour later = %s, want 4s", got)
			}
			if got := m.Elapsed(later); got != 5*time.Second {
				t.Fatalf("execution elapsed = %s, want 5s", got)
			}
		})
	}
}
