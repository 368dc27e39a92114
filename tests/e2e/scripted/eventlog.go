package scripted

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "strconv"
import "strings"

// Event is one row of an execution's event log as GET /api/executions/{id}/events
// returns it. Numbers inside the JSON columns stay json.Number, so integers keep every
// digit and can be compared exactly.
type Event struct {
	Seq       int64
	EventID   string // decimal digits, whether the route sent a number or a string
	EventType string
	NodeName  string
	Status    string
	Context   any
	Result    any
	Meta      any
	Error     any
	// Raw is the event with every column the route returned.
	Raw map[string]any
}

// Page is one page of the events route.
type Page struct {
	Events       []Event
	NextAfterSeq *int64
	HasMore      bool
}

// EventSource reads an execution's event log in seq order, page by page.
type EventSource interface {
	Events(ctx context.Context, executionID, afterSeq int64, limit int) (Page, error)
}

// HTTPEvents reads the event log through GET /api/executions/{id}/events.
type HTTPEvents struct {
	BaseURL string
	Client  *http.Client
}

// Events reads one page.
func (h HTTPEvents) Events(ctx context.Context, executionID, afterSeq int64, limit int) (Page, error) {
	q := url.Values{}
	q.Set("after_seq", strconv.FormatInt(afterSeq, 10))
	q.Set("limit", strconv.Itoa(limit))
	u := fmt.Sprintf("%s/api/executions/%d/events?%s", strings.TrimRight(h.BaseURL, "/"), executionID, q.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, err
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("read events of %d: %w", executionID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Page{}, fmt.Errorf("read events of %d: %w", executionID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, &HTTPError{Op: "GET " + u, Status: resp.StatusCode, Body: string(body)}
	}
	return DecodePage(body)
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Op     string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	b := e.Body
	if len(b) > 300 {
		b = b[:300] + "..."
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, b)
}

// DecodePage decodes the body of the events route:
// {"execution_id", "events": [...], "next_after_seq": n|null, "has_more": bool}.
func DecodePage(body []byte) (Page, error) {
	v, err := DecodeJSON(body)
	if err != nil {
		return Page{}, fmt.Errorf("decode events page: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Page{}, fmt.Errorf("decode events page: expected an object, got %T", v)
	}
	rawEvents, ok := m["events"].([]any)
	if !ok {
		return Page{}, fmt.Errorf("decode events page: \"events\" is not a list")
	}
	p := Page{Events: make([]Event, 0, len(rawEvents))}
	for i, re := range rawEvents {
		em, ok := re.(map[string]any)
		if !ok {
			return Page{}, fmt.Errorf("decode events page: events[%d] is not an object", i)
		}
		ev, err := eventFromMap(em)
		if err != nil {
			return Page{}, fmt.Errorf("decode events page: events[%d]: %w", i, err)
		}
		p.Events = append(p.Events, ev)
	}
	if n, ok := AsInt(m["next_after_seq"]); ok {
		p.NextAfterSeq = &n
	}
	p.HasMore, _ = m["has_more"].(bool)
	return p, nil
}

func eventFromMap(m map[string]any) (Event, error) {
	seq, ok := AsInt(m["seq"])
	if !ok {
		return Event{}, fmt.Errorf("seq %v is not an integer", m["seq"])
	}
	ev := Event{
		Seq: seq, EventID: IDString(m["event_id"]), Context: m["context"], Result: m["result"],
		Meta: m["meta"], Error: m["error"], Raw: m,
	}
	ev.EventType, _ = m["event_type"].(string)
	ev.NodeName, _ = m["node_name"].(string)
	ev.Status, _ = m["status"].(string)
	return ev, nil
}

// ReadLog reads the whole event log after afterSeq, every page to the end.
func ReadLog(ctx context.Context, src EventSource, executionID, afterSeq int64) ([]Event, error) {
	return ReadLogPaged(ctx, src, executionID, afterSeq, 500)
}

// ReadLogPaged is ReadLog with a page size. It fails when the route does not return
// events in increasing seq order or a page ignores the cursor.
func ReadLogPaged(ctx context.Context, src EventSource, executionID, afterSeq int64, limit int) ([]Event, error) {
	var out []Event
	cursor := afterSeq
	for {
		p, err := src.Events(ctx, executionID, cursor, limit)
		if err != nil {
			return out, err
		}
		if len(p.Events) > limit {
			return out, fmt.Errorf("events of %d: asked for %d events, got %d", executionID, limit, len(p.Events))
		}
		for _, ev := range p.Events {
			if ev.Seq <= cursor || (len(out) > 0 && ev.Seq <= out[len(out)-1].Seq) {
				return out, fmt.Errorf("events of %d: seq %d after seq %d (cursor %d): not in increasing seq order", executionID, ev.Seq, lastSeq(out), cursor)
			}
			out = append(out, ev)
		}
		next := cursor
		if p.NextAfterSeq != nil {
			next = *p.NextAfterSeq
		} else if len(p.Events) > 0 {
			next = p.Events[len(p.Events)-1].Seq
		}
		if !p.HasMore {
			return out, nil
		}
		if next <= cursor {
			return out, fmt.Errorf("events of %d: has_more with a cursor that does not advance (%d)", executionID, cursor)
		}
		cursor = next
	}
}

func lastSeq(evs []Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// DecodeJSON decodes one JSON document keeping numbers as json.Number.
func DecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return v, nil
}

// AsInt reads an integral JSON number (json.Number, int64, int, float64 without a
// fraction) or a decimal string.
func AsInt(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(t.String(), 10, 64)
		return n, err == nil
	case int64:
		return t, true
	case int:
		return int64(t), true
	case float64:
		if t == float64(int64(t)) {
			return int64(t), true
		}
	case string:
		n, err := strconv.ParseInt(t, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// IDString is an id as decimal digits (ids compare as strings; a JSON number compares
// as its digits). It is "" for null and absent values.
func IDString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// Path walks nested objects: Path(v, "result", "context", "data").
func Path(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[k]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// Event types the harness and the worker reason about.
const (
	TypeCommandIssued    = "command.issued"
	TypeCommandClaimed   = "command.claimed"
	TypeCommandStarted   = "command.started"
	TypeCommandCompleted = "command.completed"
	TypeCommandFailed    = "command.failed"
	TypeCallDone         = "call.done"
	TypeCallError        = "call.error"
	TypeStepSkipped      = "step.skipped"
)

// IsRunTerminal reports the terminal event of a run, upstream spellings included.
func IsRunTerminal(eventType string) bool {
	switch eventType {
	case "playbook.completed", "playbook.failed", "playbook.cancelled",
		"playbook_completed", "playbook_failed", "playbook_cancelled", "execution.cancelled":
		return true
	}
	return false
}

// IsCancel reports a cancel event, upstream spellings included.
func IsCancel(eventType string) bool {
	switch eventType {
	case "playbook.cancelled", "playbook_cancelled", "execution.cancelled":
		return true
	}
	return false
}

// IsPlaybookFailed reports the failed terminal event, upstream spelling included.
func IsPlaybookFailed(eventType string) bool {
	return eventType == "playbook.failed" || eventType == "playbook_failed"
}

// CommandID is the command id of a command.issued event: its meta.command_id.
func (e Event) CommandID() string {
	v, _ := Path(e.Meta, "command_id")
	return IDString(v)
}

// TerminalIDs lists every command id a terminal event could name (worker payload and
// meta), so a match on either place counts.
func (e Event) TerminalIDs() []string {
	if e.EventType != TypeCommandCompleted && e.EventType != TypeCommandFailed {
		return nil
	}
	var ids []string
	if v, ok := Path(e.Result, "context", "command_id"); ok && IDString(v) != "" {
		ids = append(ids, IDString(v))
	}
	if v, ok := Path(e.Meta, "command_id"); ok && IDString(v) != "" {
		if s := IDString(v); len(ids) == 0 || ids[0] != s {
			ids = append(ids, s)
		}
	}
	return ids
}
