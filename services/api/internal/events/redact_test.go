package events

import "testing"
import "time"

import "github.com/noetl/controlplane/shared/redact"

type fixedIDs struct{}

func (fixedIDs) Next() (int64, error) { return 99, nil }

// What a worker posts is redacted before it becomes a row: its payload (stored as
// result.context) and its meta.
func TestBuildRedactsWorkerEvents(t *testing.T) {
	t.Parallel()
	step := "login"
	req := eventRequest{
		ExecutionID: []byte(`1`), Step: &step, EventType: "call.done",
		Payload: []byte(`{"command_id":"1:login:2","result":{"context":{"data":{"access_token":"tok-abc","user":"u"}}}}`),
		Meta:    []byte(`{"authorization":"Basic dXNlcjpwYXNz","attempts":1}`),
	}
	ev, err := build(req, true, "", fixedIDs{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := ev.Result.(map[string]any)["context"].(map[string]any)
	data := ctx["result"].(map[string]any)["context"].(map[string]any)["data"].(map[string]any)
	if data["access_token"] != redact.Redacted || data["user"] != "u" {
		t.Errorf("payload not redacted: %v", data)
	}
	if ev.Meta["authorization"] != redact.Redacted || ev.Meta["attempts"] != int64(1) {
		t.Errorf("meta not redacted: %v", ev.Meta)
	}
	if ctx["command_id"] != "1:login:2" || !ev.Minted {
		t.Errorf("event: %+v", ev)
	}
}
