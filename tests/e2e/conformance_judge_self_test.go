package e2e

import "fmt"
import "strings"
import "testing"

import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// The judge is only worth something if it fails. These tests feed it synthetic event
// logs (decoded by the same code as the real ones) and check that each field and each
// invariant catches what it is there to catch. They need no server.

type logBuilder struct {
	exec   string
	seq    int
	events []string
}

func (b *logBuilder) add(typ, node, rest string) {
	b.seq++
	if rest != "" {
		rest = ", " + rest
	}
	b.events = append(b.events, fmt.Sprintf(`{"seq": %d, "event_id": %d, "event_type": %q, "node_name": %q%s}`, b.seq, 1000+b.seq, typ, node, rest))
}

func (b *logBuilder) issue(step, cmd string, toolConfig string) {
	if toolConfig == "" {
		toolConfig = "{}"
	}
	b.add("command.issued", step, fmt.Sprintf(`"meta": {"command_id": %q}, "context": {"tool_config": %s}`, cmd, toolConfig))
}

func (b *logBuilder) done(step, cmd, data string) {
	b.add("call.done", step, fmt.Sprintf(`"result": {"status": "COMPLETED", "context": {"command_id": %q, "call_index": 0, "result": {"status": "success", "context": {"status": "success", "data": %s}}}}`, cmd, data))
	b.add("command.completed", step, fmt.Sprintf(`"result": {"status": "success", "context": {"command_id": %q, "status": "success"}}`, cmd))
}

func (b *logBuilder) failed(step, cmd, errText string) {
	b.add("call.error", step, fmt.Sprintf(`"result": {"status": "FAILED", "context": {"command_id": %q, "error": %q}}, "error": %q`, cmd, errText, errText))
	b.add("command.failed", step, fmt.Sprintf(`"result": {"status": "FAILED", "context": {"command_id": %q, "error": %q}}, "error": %q`, cmd, errText, errText))
}

func (b *logBuilder) log(t *testing.T) []scripted.Event {
	t.Helper()
	p, err := scripted.DecodePage([]byte(`{"events": [` + strings.Join(b.events, ",") + `], "has_more": false}`))
	if err != nil {
		t.Fatal(err)
	}
	return p.Events
}

// fanInLog is a correct COMPLETED run of engine/04 with a big integer in join's data.
func fanInLog() *logBuilder {
	b := &logBuilder{}
	b.add("playbook_started", "playbook", "")
	b.issue("start", "c1", `{"result": {"n": 5}}`)
	b.done("start", "c1", `{"n": 5}`)
	b.add("step.skipped", "never", "")
	b.issue("left", "c2", `{"args": {"who": "noetl", "n": 1}}`)
	b.issue("right", "c3", "")
	b.done("right", "c3", `{"v": 10}`)
	b.done("left", "c2", `{"v": 6}`)
	b.issue("join", "c4", "")
	b.done("join", "c4", `{"total": 16, "big": 3900000000000000123, "ratio": 3.0, "label": "3", "flag": true, "items": [1, 2]}`)
	b.issue("end", "c5", "")
	b.done("end", "c5", `{}`)
	b.add("playbook.completed", "playbook", "")
	return b
}

func expectFrom(t *testing.T, y string) confExpect {
	t.Helper()
	var e confExpect
	dec := yaml.NewDecoder(strings.NewReader(y))
	dec.KnownFields(true)
	if err := dec.Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func judgeSynthetic(t *testing.T, b *logBuilder, expect string, st statuses) []string {
	t.Helper()
	c := &confCase{File: "99_synthetic.expect.yaml", Path: "x"}
	r := &confRun{Name: "run", Expect: expectFrom(t, expect)}
	return judgeRun(&runResult{Case: c, Run: r, ExecID: 1, Log: b.log(t), Status: st})
}

var allCompleted = statuses{Detail: "COMPLETED", Status: "COMPLETED", List: "COMPLETED"}

const fanInExpect = `
status: COMPLETED
commands: {start: 1, left: 1, right: 1, join: 1, end: 1}
not_run: [never]
skipped: [never]
outputs:
  join: {total: 16, big: 3900000000000000123, ratio: 3, label: "3", flag: true, items: [1, 2]}
before: [[left, join], [right, join], [join, end]]
max_in_flight: {left: 1}
peak_in_flight: {join: 1}
tool_args: {left: {who: noetl}}
`

func TestJudgeAcceptsACorrectRun(t *testing.T) {
	t.Parallel()
	if fails := judgeSynthetic(t, fanInLog(), fanInExpect, allCompleted); len(fails) > 0 {
		t.Fatalf("a correct run was judged wrong:\n%s", strings.Join(fails, "\n"))
	}
}

func TestJudgeCatchesEachField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		expect string
		st     statuses
		mutate func(b *logBuilder)
		field  string // the failure must name this field
	}{
		{name: "status from one route", expect: fanInExpect, st: statuses{Detail: "COMPLETED", Status: "RUNNING", List: "COMPLETED"}, field: "status"},
		{name: "status read failed", expect: fanInExpect, st: statuses{Detail: "COMPLETED", Status: "COMPLETED", Errs: []string{"list: not listed"}}, field: "status"},
		{name: "commands count", expect: strings.Replace(fanInExpect, "join: 1, end", "join: 2, end", 1), st: allCompleted, field: "commands"},
		{name: "not_run", expect: strings.Replace(fanInExpect, "not_run: [never]", "not_run: [never, end]", 1), st: allCompleted, field: "not_run"},
		{name: "skipped", expect: strings.Replace(fanInExpect, "skipped: [never]", "skipped: [never, end]", 1), st: allCompleted, field: "skipped"},
		{name: "outputs integer off by one", expect: strings.Replace(fanInExpect, "3900000000000000123", "3900000000000000124", 1), st: allCompleted, field: "outputs"},
		{name: "outputs integer as float", expect: strings.Replace(fanInExpect, "3900000000000000123", "3.9e18", 1), st: allCompleted, field: "outputs"},
		{name: "outputs string is not a number", expect: strings.Replace(fanInExpect, `label: "3"`, "label: 3", 1), st: allCompleted, field: "outputs"},
		{name: "outputs number is not a string", expect: strings.Replace(fanInExpect, "total: 16", `total: "16"`, 1), st: allCompleted, field: "outputs"},
		{name: "outputs list length", expect: strings.Replace(fanInExpect, "items: [1, 2]", "items: [1]", 1), st: allCompleted, field: "outputs"},
		{name: "outputs missing key", expect: strings.Replace(fanInExpect, "flag: true", "flag: true, gone: 1", 1), st: allCompleted, field: "outputs"},
		{name: "outputs of a step without call.done", expect: strings.Replace(fanInExpect, "outputs:\n", "outputs:\n  never: {}\n", 1), st: allCompleted, field: "outputs"},
		{name: "before reversed", expect: strings.Replace(fanInExpect, "[join, end]]", "[join, end], [end, join]]", 1), st: allCompleted, field: "before"},
		{name: "before left finished after right started", expect: strings.Replace(fanInExpect, "[[left, join]", "[[left, right]", 1), st: allCompleted, field: "before"},
		{name: "max_in_flight", expect: strings.Replace(fanInExpect, "max_in_flight: {left: 1}", "max_in_flight: {left: 0}", 1), st: allCompleted, field: "max_in_flight"},
		{name: "peak_in_flight", expect: strings.Replace(fanInExpect, "peak_in_flight: {join: 1}", "peak_in_flight: {join: 2}", 1), st: allCompleted, field: "peak_in_flight"},
		{name: "tool_args", expect: strings.Replace(fanInExpect, "{who: noetl}", "{who: nobody}", 1), st: allCompleted, field: "tool_args"},
		{name: "error_contains on a run without errors", expect: fanInExpect + `error_contains: "boom"` + "\n", st: allCompleted, field: "error_contains"},
		{name: "db is tools only", expect: fanInExpect + "db: [{sql: select 1, rows: [[1]]}]\n", st: allCompleted, field: "db"},
		{name: "absent_text", expect: fanInExpect + "absent_text: [noetl]\n", st: allCompleted, field: "absent_text"},
		{name: "two terminal events", expect: fanInExpect, st: allCompleted, field: "invariant 1",
			mutate: func(b *logBuilder) { b.add("playbook.failed", "playbook", "") }},
		{name: "issued after the terminal event", expect: strings.Replace(fanInExpect, "end: 1}", "end: 2}", 1), st: allCompleted, field: "invariant 1",
			mutate: func(b *logBuilder) { b.issue("end", "c9", "") }},
		{name: "no terminal event", expect: fanInExpect, st: allCompleted, field: "invariant 1",
			mutate: func(b *logBuilder) { b.events = b.events[:len(b.events)-1]; b.seq-- }},
		{name: "not drained", expect: fanInExpect, st: allCompleted, field: "invariant 2",
			mutate: func(b *logBuilder) {
				last := b.events[len(b.events)-1]
				b.events = b.events[:len(b.events)-1]
				b.seq--
				b.issue("extra", "c8", "")
				b.events = append(b.events, strings.Replace(last, fmt.Sprintf(`"seq": %d`, b.seq), fmt.Sprintf(`"seq": %d`, b.seq+1), 1))
				b.seq++
			}},
		{name: "a command with two terminal events", expect: fanInExpect, st: allCompleted, field: "invariant 2",
			mutate: func(b *logBuilder) {
				last := b.events[len(b.events)-1]
				b.events = b.events[:len(b.events)-1]
				b.seq--
				b.add("command.completed", "end", `"result": {"context": {"command_id": "c5"}}`)
				b.events = append(b.events, strings.Replace(last, fmt.Sprintf(`"seq": %d`, b.seq), fmt.Sprintf(`"seq": %d`, b.seq+1), 1))
				b.seq++
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := fanInLog()
			if tt.mutate != nil {
				tt.mutate(b)
			}
			fails := judgeSynthetic(t, b, tt.expect, tt.st)
			for _, f := range fails {
				if strings.Contains(f, ": "+tt.field+": ") {
					return
				}
			}
			t.Errorf("no %s failure; got %q", tt.field, fails)
		})
	}
}

func TestJudgeFailedAndCancelledRuns(t *testing.T) {
	t.Parallel()
	failedRun := func() *logBuilder {
		b := &logBuilder{}
		b.add("playbook_started", "playbook", "")
		b.issue("start", "c1", "")
		b.done("start", "c1", "{}")
		b.issue("bad", "c2", "")
		b.issue("steady", "c3", "")
		b.failed("bad", "c2", "boom in bad")
		b.done("steady", "c3", "{}")
		b.add("playbook.failed", "playbook", `"meta": {"error": "step bad failed"}`)
		return b
	}
	const failedExpect = `
status: FAILED
commands: {start: 1, bad: 1, steady: 1}
not_run: [join]
error_contains: "boom in bad"
`
	failed := statuses{Detail: "FAILED", Status: "FAILED", List: "FAILED"}
	if fails := judgeSynthetic(t, failedRun(), failedExpect, failed); len(fails) > 0 {
		t.Errorf("a correct FAILED run was judged wrong: %q", fails)
	}
	if fails := judgeSynthetic(t, failedRun(), strings.Replace(failedExpect, "boom in bad", "Boom", 1), failed); len(fails) == 0 {
		t.Error("error_contains is case-sensitive")
	}
	if fails := judgeSynthetic(t, failedRun(), strings.Replace(failedExpect, "boom in bad", "step bad failed", 1), failed); len(fails) > 0 {
		t.Errorf("error_contains reads meta.error of playbook.failed: %q", fails)
	}

	cancelled := func(issueAfter bool) *logBuilder {
		b := &logBuilder{}
		b.add("playbook_started", "playbook", "")
		b.issue("start", "c1", "")
		b.done("start", "c1", "{}")
		b.issue("slow", "c2", "")
		b.add("command.claimed", "slow", "")
		b.add("playbook.cancelled", "playbook", "")
		if issueAfter {
			b.issue("after", "c3", "")
		}
		b.done("slow", "c2", "{}")
		return b
	}
	const cancelExpect = `
status: CANCELLED
commands: {start: 1, slow: 1}
`
	all := statuses{Detail: "CANCELLED", Status: "CANCELLED", List: "CANCELLED"}
	if fails := judgeSynthetic(t, cancelled(false), cancelExpect+"not_run: [after]\n", all); len(fails) > 0 {
		t.Errorf("a correct CANCELLED run (held command ends after the cancel) was judged wrong: %q", fails)
	}
	fails := judgeSynthetic(t, cancelled(true), cancelExpect, all)
	found := false
	for _, f := range fails {
		found = found || strings.Contains(f, ": invariant 3: ")
	}
	if !found {
		t.Errorf("command.issued after the cancel: no invariant 3 failure in %q", fails)
	}
}
