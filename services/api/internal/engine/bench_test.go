package engine

import "fmt"
import "runtime"
import "sort"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/tmpl"

// What one pass costs, and what one command weighs, must not grow with the execution's
// history (docs/engine.md, "Cost does not grow with history"). The chain's steps each
// read the previous result and return a padded one, so a context holding every earlier
// result (what the engine built before) would grow by ~250 bytes a step.

const pad = "a result of some size, so that carrying every earlier one in each command would show: 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"

// chainPlaybook is start → s1 → … → s(n-1).
func chainPlaybook(n int) *playbook.Playbook {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: chain\n  path: bench/chain\nworkflow:\n")
	prev := "start"
	fmt.Fprintf(&b, "  - step: start\n    tool:\n      kind: noop\n      result: {n: 0, pad: %q}\n    next: [s1]\n", pad)
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("s%d", i)
		fmt.Fprintf(&b, "  - step: %s\n    tool:\n      kind: noop\n      result: {n: \"{{ %s.n + 1 }}\", pad: %q}\n", name, prev, pad)
		if i+1 < n {
			fmt.Fprintf(&b, "    next: [s%d]\n", i+1)
		}
		prev = name
	}
	return mustParsePlaybook(b.String())
}

// fanInPlaybook is start → b0 … b(n-1) (a plain list: all fire) → join.
func fanInPlaybook(n int) *playbook.Playbook {
	var b strings.Builder
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("b%d", i)
	}
	fmt.Fprintf(&b, "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: fanin\n  path: bench/fanin\nworkflow:\n")
	fmt.Fprintf(&b, "  - step: start\n    tool:\n      kind: noop\n    next: [%s]\n", strings.Join(names, ", "))
	for _, name := range names {
		fmt.Fprintf(&b, "  - step: %s\n    tool:\n      kind: noop\n      result: {v: 1, pad: %q}\n    next: [join]\n", name, pad)
	}
	fmt.Fprintf(&b, "  - step: join\n    tool:\n      kind: noop\n      result: {first: \"{{ b0.v }}\", last: \"{{ b%d.v }}\"}\n", n-1)
	return mustParsePlaybook(b.String())
}

func mustParsePlaybook(src string) *playbook.Playbook {
	pb, err := playbook.Parse([]byte(src))
	if err != nil {
		panic(err)
	}
	return pb
}

// driver runs an execution in memory without the snapshot round trip of the
// conformance harness: it measures the engine alone.
type driver struct {
	e      *Engine
	pb     *playbook.Playbook
	st     *State
	issued map[string]Event // outstanding commands' command.issued
	stored iterationStore
}

func newDriver(tb testing.TB, pb *playbook.Playbook) *driver {
	d := &driver{e: New(tmpl.New(0), &seqIDs{}), pb: pb, st: NewState(1, 2, pb.Metadata.Path),
		issued: map[string]Event{}, stored: iterationStore{}}
	out, err := d.e.Start(d.st, pb, map[string]any{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	d.record(out)
	return d
}

func (d *driver) record(out []Event) []Event {
	var issued []Event
	for _, ev := range out {
		if ev.Type == TypeCommandIssued {
			d.issued[keyString(ev.Meta["command_id"])] = ev
			issued = append(issued, ev)
		}
	}
	d.stored.keep(d.st.TakeIterations())
	return issued
}

// pending lists the outstanding command ids in issue order.
func (d *driver) pending() []string {
	keys := make([]string, 0, len(d.st.Commands))
	for k := range d.st.Commands {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return d.st.Commands[keys[i]].EventID < d.st.Commands[keys[j]].EventID })
	return keys
}

// pass folds a command's worker events and runs the pass they trigger; it returns the
// commands the pass issued.
func (d *driver) pass(tb testing.TB, key string) []Event {
	issued := d.issued[key]
	delete(d.issued, key)
	var trigger int64
	for _, ev := range workerEvents(issued, false, "", nil) {
		ev.Seq = d.st.Seq + 1
		ev.EventID = d.st.Seq + 1<<40
		trigger = ev.EventID
		d.st.Apply(ev, d.pb)
	}
	out, err := d.e.Advance(d.st, d.pb, trigger, d.stored)
	if err != nil {
		tb.Fatal(err)
	}
	return d.record(out)
}

// commandBytes is the size of a command.issued's context (tool_config, args,
// render_context) as stored and served.
func commandBytes(tb testing.TB, ev Event) int {
	b, err := jsonx.Marshal(ev.Context)
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// chainAt runs the chain until step s<k> has its command outstanding.
func chainAt(tb testing.TB, pb *playbook.Playbook, k int) *driver {
	d := newDriver(tb, pb)
	for i := 0; i < k; i++ {
		d.pass(tb, d.pending()[0])
	}
	return d
}

// fanInAt runs the fan-in until every branch has its command outstanding.
func fanInAt(tb testing.TB, pb *playbook.Playbook) *driver {
	d := newDriver(tb, pb)
	d.pass(tb, d.pending()[0])
	return d
}

// The size of a command does not grow with the chain: the command at step 1,000 weighs
// what the one at step 10 does (within 2×), and a 1,000-branch join's does too.
func TestCommandSizeDoesNotGrowWithHistory(t *testing.T) {
	t.Parallel()
	pb := chainPlaybook(1001)
	d := newDriver(t, pb)
	sizes := map[int]int{}
	for i := 0; i < 1000; i++ {
		issued := d.pass(t, d.pending()[0])
		if len(issued) != 1 {
			t.Fatalf("step %d issued %d commands", i+1, len(issued))
		}
		sizes[i+1] = commandBytes(t, issued[0])
	}
	for _, k := range []int{100, 1000} {
		if sizes[k] > 2*sizes[10] {
			t.Errorf("the command at step %d is %d bytes, more than twice the %d bytes at step 10", k, sizes[k], sizes[10])
		}
	}
	f := fanInAt(t, fanInPlaybook(1000))
	var join []Event
	for _, key := range f.pending() {
		join = append(join, f.pass(t, key)...)
	}
	if len(join) != 1 || join[0].Step != "join" {
		t.Fatalf("the fan-in issued %d commands after its branches, want the join once", len(join))
	}
	if got := commandBytes(t, join[0]); got > 2*sizes[10] {
		t.Errorf("the join of 1000 branches is %d bytes, more than twice a chain step's %d", got, sizes[10])
	}
}

// BenchmarkPass prints the engine's CPU per pass (fold the worker's events, decide,
// issue the next command) and the bytes of the command it issues, at step 10, 100 and
// 1,000 of a chain and for a 1,000-branch fan-in: when one branch of many finishes (the
// join waits) and when the last one does (the join is issued).
func BenchmarkPass(b *testing.B) {
	chain := chainPlaybook(1002)
	for _, k := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("chain_step_%d", k), func(b *testing.B) {
			benchPass(b, chainAt(b, chain, k-1), 0)
		})
	}
	fanin := fanInPlaybook(1000)
	b.Run("fanin_1000_one_branch", func(b *testing.B) {
		benchPass(b, fanInAt(b, fanin), 500)
	})
	b.Run("fanin_1000_last_branch", func(b *testing.B) {
		d := fanInAt(b, fanin)
		for _, key := range d.pending()[:999] {
			d.pass(b, key)
		}
		benchPass(b, d, 0)
	})
}

// benchPass times the pass that finishes the which-th outstanding command of d, each
// time on a fresh copy of d's state. Copies are decoded from the snapshot in batches
// outside the measurement, and their garbage collected before it: the figures are the
// engine's work, not the decoding's.
func benchPass(b *testing.B, d *driver, which int) {
	snap, err := EncodeState(d.st)
	if err != nil {
		b.Fatal(err)
	}
	key := d.pending()[which]
	issued := d.issued[key]
	b.ReportAllocs()
	const batch = 64
	states := make([]*State, 0, batch)
	bytes, cpu := 0, time.Duration(0)
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		states = states[:0]
		for len(states) < min(batch, b.N-done) {
			st, err := DecodeState(snap)
			if err != nil {
				b.Fatal(err)
			}
			states = append(states, st)
		}
		runtime.GC()
		start := testkit.ProcessCPU()
		b.StartTimer()
		for _, st := range states {
			d.st = st
			d.issued[key] = issued
			if out := d.pass(b, key); len(out) > 0 {
				bytes = commandBytes(b, out[0])
			}
		}
		b.StopTimer()
		cpu += testkit.ProcessCPU() - start
		done += len(states)
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/pass")
	b.ReportMetric(float64(bytes), "bytes/command")
	// The snapshot still holds every finished step's result, so it grows along a chain
	// (it is not read by the pass measured here; keeping references instead of results
	// is the snapshot's own work).
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}
