package scripted

import "encoding/json"
import "reflect"
import "testing"

func TestData(t *testing.T) {
	t.Parallel()
	decode := func(s string) any {
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, toolConfig, want string
	}{
		{"single result keeps big integers", `{"result": {"big": 3900000000000000123, "f": 1.50}}`, `{"big":3900000000000000123,"f":1.50}`},
		{"single without result", `{"message": "hi"}`, `{}`},
		{"pipeline in pipeline order", `[{"loader": {"kind": "noop", "result": {"a": 1}}}, {"check": {"kind": "noop", "result": {"b": 2}}}]`, `{"loader":{"a":1},"check":{"b":2}}`},
		{"flat pipeline item", `[{"zeta": {"kind": "noop"}}, {"name": "alpha", "kind": "noop", "result": 7}]`, `{"zeta":{},"alpha":7}`},
		{"not an object", `null`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(Data(decode(tt.toolConfig)))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Data = %s, want %s", b, tt.want)
			}
		})
	}
}

func TestOutcomeFromMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      map[string]any
		want    Outcome
		wantErr bool
	}{
		{"error", map[string]any{"status": "error", "error": "boom"}, Outcome{Status: "error", Error: "boom"}, false},
		{"after and error", map[string]any{"status": "error", "error": "x", "after": "s"}, Outcome{Status: "error", Error: "x", After: "s"}, false},
		{"wait_issued", map[string]any{"wait_issued": 2}, Outcome{WaitIssued: 2}, false},
		{"hold", map[string]any{"hold": "until_cancelled"}, Outcome{HoldUntilCancelled: true}, false},
		{"hold combines with nothing", map[string]any{"hold": "until_cancelled", "after": "x"}, Outcome{}, true},
		{"unknown key", map[string]any{"sleep": 1}, Outcome{}, true},
		{"error without text", map[string]any{"status": "error"}, Outcome{}, true},
		{"error with data", map[string]any{"status": "error", "error": "HTTP 404", "data": map[string]any{"status_code": 404}},
			Outcome{Status: "error", Error: "HTTP 404", Data: map[string]any{"status_code": 404}}, false},
		{"data without error", map[string]any{"data": map[string]any{"status_code": 404}}, Outcome{}, true},
		{"null data", map[string]any{"status": "error", "error": "x", "data": nil}, Outcome{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := OutcomeFromMap(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodePageAndState(t *testing.T) {
	t.Parallel()
	body := `{"execution_id": "7", "has_more": false, "next_after_seq": 4, "events": [
	 {"seq": 1, "event_id": 10, "event_type": "command.issued", "node_name": "a", "meta": {"command_id": "7:a:10"}},
	 {"seq": 2, "event_id": "11", "event_type": "command.issued", "node_name": "a", "meta": {"command_id": "7:a:11"}},
	 {"seq": 3, "event_id": 12, "event_type": "command.completed", "node_name": "a", "result": {"context": {"command_id": "7:a:10"}}},
	 {"seq": 4, "event_id": 13, "event_type": "playbook.cancelled", "node_name": "playbook"}]}`
	p, err := DecodePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 4 || p.HasMore || p.NextAfterSeq == nil || *p.NextAfterSeq != 4 || p.Events[1].EventID != "11" {
		t.Fatalf("page = %+v", p)
	}
	st := newLogState()
	if got := st.apply(p.Events); len(got) != 2 || got[0] != "10" {
		t.Fatalf("issued = %v", got)
	}
	if st.ready("99", "b", Outcome{After: "a"}) != true { // terminal run releases every wait
		t.Error("after should be released by the terminal event")
	}
	st2 := newLogState()
	st2.apply(p.Events[:3])
	if st2.ready("10", "b", Outcome{After: "a"}) {
		t.Error("after: a has a command without a terminal event")
	}
	if !st2.ready("11", "a", Outcome{WaitIssued: 2}) || st2.ready("11", "a", Outcome{WaitIssued: 3}) {
		t.Error("wait_issued counts command.issued of the step")
	}
	if st2.ready("99", "a", Outcome{WaitIssued: 1}) {
		t.Error("a condition is judged before the log shows the command's own command.issued")
	}
	if !st2.ready("99", "a", Outcome{}) {
		t.Error("a command without conditions finishes at once")
	}
	if st2.ready("11", "a", Outcome{HoldUntilCancelled: true}) || !st.ready("11", "a", Outcome{HoldUntilCancelled: true}) {
		t.Error("hold is released by the cancel event only")
	}
}
