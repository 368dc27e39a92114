package e2e

import "bytes"
import "encoding/json"
import "fmt"
import "math/big"
import "sort"
import "strings"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// runResult is everything the judge reads about one run, collected once the run is
// terminal (and, with cancel_when_running, once the held step's commands finished).
type runResult struct {
	Case    *confCase
	Run     *confRun
	Attempt int // with NOETL_CONFORMANCE_REPEAT
	ExecID  int64
	Log     []scripted.Event
	Status  statuses
	// ChildLogs are the event logs of child executions (absent_text).
	ChildLogs map[int64][]scripted.Event
	// Harness lists problems driving the run: execute refused, deadline, worker errors.
	Harness []string
	// Collected by the tools harness: the rows of each expect.db query (nil: no
	// scratch database), and the secret-audit rows (AuditRead false: not read).
	DB        []dbResult
	Audit     []any
	AuditRead bool
}

// dbResult is the outcome of one expect.db query, rows in the JSON model.
type dbResult struct {
	SQL  string
	Rows any
	Err  error
}

func (r *runResult) harness(format string, args ...any) {
	r.Harness = append(r.Harness, fmt.Sprintf(format, args...))
}

func (r *runResult) name() string {
	if r.Attempt > 0 {
		return fmt.Sprintf("%s/%s#%d", r.Case.caseName(), r.Run.Name, r.Attempt)
	}
	return r.Case.caseName() + "/" + r.Run.Name
}

// logIndex is the event log arranged for the checks. Positions are seq values.
type logIndex struct {
	issued       map[string][]scripted.Event // command.issued per step
	cmdStep      map[string]string           // command id -> step
	terminals    map[string][]scripted.Event // command id -> its terminal events
	runTerminals []scripted.Event
	cancels      []scripted.Event
}

func indexLog(log []scripted.Event) *logIndex {
	ix := &logIndex{issued: map[string][]scripted.Event{}, cmdStep: map[string]string{}, terminals: map[string][]scripted.Event{}}
	for _, ev := range log {
		switch {
		case ev.EventType == scripted.TypeCommandIssued:
			ix.issued[ev.NodeName] = append(ix.issued[ev.NodeName], ev)
			ix.cmdStep[ev.CommandID()] = ev.NodeName
		case ev.EventType == scripted.TypeCommandCompleted || ev.EventType == scripted.TypeCommandFailed:
			for _, id := range ev.TerminalIDs() {
				ix.terminals[id] = append(ix.terminals[id], ev)
			}
		}
		if scripted.IsRunTerminal(ev.EventType) {
			ix.runTerminals = append(ix.runTerminals, ev)
		}
		if scripted.IsCancel(ev.EventType) {
			ix.cancels = append(ix.cancels, ev)
		}
	}
	return ix
}

// judgeRun checks every field of the run's expectations and the three invariants, and
// returns one message per failure, each naming the field.
func judgeRun(r *runResult) []string {
	var fails []string
	fail := func(field, format string, args ...any) {
		fails = append(fails, fmt.Sprintf("%s: %s: %s", r.name(), field, fmt.Sprintf(format, args...)))
	}
	for _, h := range r.Harness {
		fail("harness", "%s", h)
	}
	if r.ExecID == 0 {
		return fails
	}
	ix := indexLog(r.Log)
	exp := r.Run.Expect

	// status: detail, /status and the list all equal the expectation.
	for _, e := range r.Status.Errs {
		fail("status", "%s", e)
	}
	for _, s := range []struct{ route, got string }{
		{"GET /api/executions/{id}", r.Status.Detail},
		{"GET /api/executions/{id}/status", r.Status.Status},
		{"GET /api/executions?path=", r.Status.List},
	} {
		if s.got != "" && s.got != exp.Status {
			fail("status", "%s says %s, want %s", s.route, s.got, exp.Status)
		}
	}

	steps := sortedKeys(exp.Commands)
	for _, step := range steps {
		if got := len(ix.issued[step]); got != exp.Commands[step] {
			fail("commands", "step %s has %d command.issued, want %d", step, got, exp.Commands[step])
		}
	}
	for _, step := range exp.NotRun {
		if got := len(ix.issued[step]); got != 0 {
			fail("not_run", "step %s has %d command.issued, want none", step, got)
		}
	}
	for _, step := range exp.Skipped {
		n := 0
		for _, ev := range r.Log {
			if ev.EventType == scripted.TypeStepSkipped && ev.NodeName == step {
				n++
			}
		}
		if n == 0 {
			fail("skipped", "step %s has no step.skipped event", step)
		}
	}
	for _, step := range sortedKeys(exp.Outputs) {
		var latest *scripted.Event
		for i := range r.Log {
			if r.Log[i].EventType == scripted.TypeCallDone && r.Log[i].NodeName == step {
				latest = &r.Log[i]
			}
		}
		if latest == nil {
			fail("outputs", "step %s has no call.done", step)
			continue
		}
		data, ok := scripted.Path(latest.Result, "context", "result", "context", "data")
		if !ok {
			fail("outputs", "step %s: the latest call.done (seq %d) has no result.context.result.context.data: %s", step, latest.Seq, jsonText(latest.Result))
			continue
		}
		for _, d := range deepSubset(step, exp.Outputs[step], data) {
			fail("outputs", "%s (data %s)", d, jsonText(data))
		}
	}
	for _, pair := range exp.Before {
		a, b := pair[0], pair[1]
		lastA := int64(-1)
		for _, is := range ix.issued[a] {
			for _, te := range ix.terminals[is.CommandID()] {
				if te.Seq > lastA {
					lastA = te.Seq
				}
			}
		}
		if lastA < 0 {
			fail("before", "[%s, %s]: no command of %s has a terminal event", a, b, a)
			continue
		}
		if len(ix.issued[b]) == 0 {
			fail("before", "[%s, %s]: %s has no command.issued", a, b, b)
			continue
		}
		if firstB := ix.issued[b][0].Seq; lastA >= firstB {
			fail("before", "[%s, %s]: the last terminal event of %s (seq %d) does not come before the first command.issued of %s (seq %d)", a, b, a, lastA, b, firstB)
		}
	}
	for _, step := range sortedKeys(exp.MaxInFlight) {
		if peak := peakInFlight(r.Log, ix, step); peak > exp.MaxInFlight[step] {
			fail("max_in_flight", "step %s reached %d commands in flight, want at most %d", step, peak, exp.MaxInFlight[step])
		}
	}
	for _, step := range sortedKeys(exp.PeakInFlight) {
		if peak := peakInFlight(r.Log, ix, step); peak != exp.PeakInFlight[step] {
			fail("peak_in_flight", "step %s peaked at %d commands in flight, want exactly %d", step, peak, exp.PeakInFlight[step])
		}
	}
	if exp.ErrorContains != nil {
		var seen []string
		found := false
		for _, ev := range r.Log {
			if ev.EventType != scripted.TypeCallError && ev.EventType != scripted.TypeCommandFailed && !scripted.IsPlaybookFailed(ev.EventType) {
				continue
			}
			for _, place := range []any{pathOr(ev.Result, "context", "error"), pathOr(ev.Meta, "error"), ev.Error} {
				for _, s := range stringsIn(place) {
					seen = append(seen, s)
					if strings.Contains(s, *exp.ErrorContains) {
						found = true
					}
				}
			}
		}
		if !found {
			fail("error_contains", "no call.error, command.failed or playbook.failed error contains %q; errors seen: %q", *exp.ErrorContains, seen)
		}
	}
	for _, step := range sortedKeys(exp.ToolArgs) {
		for _, is := range ix.issued[step] {
			args, aok := scripted.Path(is.Context, "tool_config", "args")
			input, iok := scripted.Path(is.Context, "tool_config", "input")
			var da, di []string
			if aok {
				da = deepSubset(step+".args", exp.ToolArgs[step], args)
			}
			if iok {
				di = deepSubset(step+".input", exp.ToolArgs[step], input)
			}
			if (aok && len(da) == 0) || (iok && len(di) == 0) {
				continue
			}
			fail("tool_args", "command %s of %s: neither context.tool_config.args nor .input matches: %s; tool_config %s",
				is.CommandID(), step, strings.Join(append(da, di...), "; "), jsonText(pathOr(is.Context, "tool_config")))
		}
	}
	if exp.Decisions != nil {
		if got := decisionLog(r.Log); strings.Join(got, "\n") != strings.Join(exp.Decisions, "\n") {
			fail("decisions", "the decision log differs:\n got  %q\n want %q", got, exp.Decisions)
		}
	}
	switch {
	case len(exp.DB) > 0 && r.DB == nil:
		fail("db", "the engine harness has no scratch database; db checks belong to the tools group")
	case len(exp.DB) > 0:
		for i, q := range exp.DB {
			want := pathOr(q, "rows")
			if i >= len(r.DB) {
				fail("db", "query %d was not run", i)
				continue
			}
			got := r.DB[i]
			if got.Err != nil {
				fail("db", "%s: %v", got.SQL, got.Err)
				continue
			}
			for _, d := range deepSubset(fmt.Sprintf("db[%d]", i), want, got.Rows) {
				fail("db", "%s (query %s, rows %s)", d, got.SQL, jsonText(got.Rows))
			}
		}
	}
	switch {
	case len(exp.Audit) > 0 && !r.AuditRead:
		fail("audit", "secret-audit checks belong to the tools group")
	case len(exp.Audit) > 0:
		for i, want := range exp.Audit {
			matched := false
			for _, row := range r.Audit {
				if len(deepSubset("audit", want, row)) == 0 {
					matched = true
					break
				}
			}
			if !matched {
				fail("audit", "entry %d %s matches none of the %d audit rows: %s", i, jsonText(want), len(r.Audit), clip(jsonText(r.Audit), 1500))
			}
		}
	}
	if len(exp.AbsentText) > 0 {
		logs := map[int64][]scripted.Event{r.ExecID: r.Log}
		for id, l := range r.ChildLogs {
			logs[id] = l
		}
		for id, l := range logs {
			for _, ev := range l {
				text := jsonText(ev.Raw)
				for _, s := range exp.AbsentText {
					if strings.Contains(text, s) {
						fail("absent_text", "%q occurs in event seq %d (%s) of execution %d", s, ev.Seq, ev.EventType, id)
					}
				}
			}
		}
	}

	// The invariants, checked on every run.
	switch len(ix.runTerminals) {
	case 0:
		fail("invariant 1", "the event log has no terminal event")
	case 1:
	default:
		var types []string
		for _, ev := range ix.runTerminals {
			types = append(types, fmt.Sprintf("%s@%d", ev.EventType, ev.Seq))
		}
		fail("invariant 1", "%d terminal events, want exactly one: %v", len(ix.runTerminals), types)
	}
	if len(ix.runTerminals) > 0 {
		term := ix.runTerminals[0]
		for _, ev := range r.Log {
			if ev.EventType == scripted.TypeCommandIssued && ev.Seq > term.Seq {
				fail("invariant 1", "command.issued of %s (seq %d) after the terminal event %s (seq %d)", ev.NodeName, ev.Seq, term.EventType, term.Seq)
			}
		}
		if !scripted.IsCancel(term.EventType) {
			for _, step := range sortedKeys(ix.issued) {
				for _, is := range ix.issued[step] {
					ts := ix.terminals[is.CommandID()]
					switch {
					case len(ts) != 1:
						fail("invariant 2", "command %s of %s has %d terminal events, want exactly one", is.CommandID(), step, len(ts))
					case ts[0].Seq > term.Seq:
						fail("invariant 2", "command %s of %s ends (seq %d) after the run's terminal event %s (seq %d)", is.CommandID(), step, ts[0].Seq, term.EventType, term.Seq)
					}
				}
			}
		}
	}
	if len(ix.cancels) > 0 {
		c := ix.cancels[0]
		for _, ev := range r.Log {
			if ev.EventType == scripted.TypeCommandIssued && ev.Seq > c.Seq {
				fail("invariant 3", "command.issued of %s (seq %d) after %s (seq %d)", ev.NodeName, ev.Seq, c.EventType, c.Seq)
			}
		}
	}
	return fails
}

// peakInFlight replays the log: +1 at each command.issued of step, -1 at the first
// terminal event of each of its commands.
func peakInFlight(log []scripted.Event, ix *logIndex, step string) int {
	mine := map[string]bool{}
	for _, is := range ix.issued[step] {
		mine[is.CommandID()] = true
	}
	ended := map[string]bool{}
	n, peak := 0, 0
	for _, ev := range log {
		switch {
		case ev.EventType == scripted.TypeCommandIssued && ev.NodeName == step:
			n++
		default:
			for _, id := range ev.TerminalIDs() {
				if mine[id] && !ended[id] {
					ended[id] = true
					n--
				}
			}
		}
		if n > peak {
			peak = n
		}
	}
	return peak
}

// deepSubset compares want (decoded from YAML) with got (decoded from JSON with
// json.Number) by the README's rules and describes each mismatch.
func deepSubset(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", path, jsonText(got))}
		}
		var out []string
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, deepSubset(path+"."+k, w[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want a list, got %s", path, jsonText(got))}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want a list of %d, got %d: %s", path, len(w), len(g), jsonText(got))}
		}
		var out []string
		for i := range w {
			out = append(out, deepSubset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	case nil:
		if got != nil {
			return []string{fmt.Sprintf("%s: want null, got %s", path, jsonText(got))}
		}
		return nil
	case string, bool:
		if got != want {
			return []string{fmt.Sprintf("%s: want %s, got %s", path, jsonText(want), jsonText(got))}
		}
		return nil
	}
	wr, ok := ratOf(want)
	if !ok {
		return []string{fmt.Sprintf("%s: unsupported expected value %T", path, want)}
	}
	gn, isNum := got.(json.Number)
	if !isNum {
		return []string{fmt.Sprintf("%s: want the number %s, got %s", path, jsonText(want), jsonText(got))}
	}
	gr, ok := new(big.Rat).SetString(gn.String())
	if !ok || gr.Cmp(wr) != 0 {
		return []string{fmt.Sprintf("%s: want %s, got %s", path, jsonText(want), gn.String())}
	}
	return nil
}

// ratOf is the exact value of a YAML number: integers never pass through a float.
func ratOf(v any) (*big.Rat, bool) {
	switch t := v.(type) {
	case int:
		return new(big.Rat).SetInt64(int64(t)), true
	case int64:
		return new(big.Rat).SetInt64(t), true
	case uint64:
		return new(big.Rat).SetInt(new(big.Int).SetUint64(t)), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(t) == nil {
			return nil, false
		}
		return r, true
	case json.Number:
		return new(big.Rat).SetString(t.String())
	}
	return nil, false
}

// stringsIn lists the string values in v at any depth.
func stringsIn(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case map[string]any:
		var out []string
		for _, k := range sortedKeys(t) {
			out = append(out, stringsIn(t[k])...)
		}
		return out
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

func pathOr(v any, keys ...string) any {
	r, _ := scripted.Path(v, keys...)
	return r
}

// jsonText serialises without HTML escaping and with non-ASCII as itself.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// decisionLog reduces an event log to what decides a run's course
// (testdata/engine-shapes/README.md).
func decisionLog(log []scripted.Event) []string {
	var out []string
	for _, ev := range log {
		switch ev.EventType {
		case "step.enter", scripted.TypeStepSkipped, "step.exit", "ctx.updated", scripted.TypeCommandIssued,
			scripted.TypeCommandCompleted, scripted.TypeCommandFailed:
			out = append(out, ev.EventType+" "+ev.NodeName)
		case "playbook.completed", "playbook.failed", "playbook.cancelled":
			out = append(out, ev.EventType)
		}
	}
	return out
}
