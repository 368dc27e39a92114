package engine

import "fmt"
import "math/rand/v2"
import "sort"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/tmpl"

// The property test and the fuzz target generate playbook graphs with cycles (self-loops
// included), joins, `when` guards, loops and on_error, run them against a worker that
// finishes commands in a random order with random outcomes, and check what must hold for
// every graph a user can write:
//   - every pass terminates, without hitting the work bound (no cycle here completes on
//     its own more than a few times);
//   - the run ends with exactly one terminal event, nothing is issued after it, and every
//     command has exactly one terminal event before it;
//   - no step is issued twice for one entry (one command per entry, or distinct
//     iterations of a loop entry);
//   - a step with several forward upstreams is never entered while one of them has a
//     command in flight.
// Every arc is guarded by a budget of step completions (ctx.ticks), so every run ends.

const tickBudget = 20

// randomPlaybook writes a playbook of 2 to 8 steps from seed.
func randomPlaybook(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := 2 + rng.IntN(7)
	name := func(i int) string {
		if i == 0 {
			return "start"
		}
		return fmt.Sprintf("s%d", i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: random_%d\n  path: tests/random_%d\nworkload:\n  flag: %v\nworkflow:\n",
		seed, seed, rng.IntN(2) == 0)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - step: %s\n", name(i))
		if i > 0 && rng.IntN(4) == 0 {
			b.WriteString([]string{
				"    when: \"{{ false }}\"\n",
				"    when: \"{{ workload.flag }}\"\n",
				"    when: \"{{ (ctx.ticks | default(0)) % 2 == 0 }}\"\n",
			}[rng.IntN(3)])
		}
		if rng.IntN(4) == 0 {
			in := []string{"\"{{ [] }}\"", "\"{{ 1 }}\"", "\"{{ 3 }}\"", "\"{{ range(2) | list }}\""}[rng.IntN(4)]
			mode := []string{"sequential", "parallel"}[rng.IntN(2)]
			fmt.Fprintf(&b, "    loop:\n      in: %s\n      iterator: it\n      spec: {mode: %s, max_in_flight: %d}\n", in, mode, rng.IntN(3))
		}
		if rng.IntN(8) == 0 {
			b.WriteString("    spec: {on_error: continue}\n")
		}
		fmt.Fprintf(&b, "    tool:\n      kind: noop\n      result: {step: %s}\n", name(i))
		b.WriteString("    set:\n      ctx.ticks: \"{{ (ctx.ticks | default(0)) + 1 }}\"\n")
		arcs := 1 + rng.IntN(3)
		if rng.IntN(5) == 0 {
			continue // a step without next ends its branch
		}
		fmt.Fprintf(&b, "    next:\n      spec: {mode: %s}\n      arcs:\n", []string{"exclusive", "inclusive"}[rng.IntN(2)])
		for a := 0; a < arcs; a++ {
			cond := fmt.Sprintf("(ctx.ticks | default(0)) < %d", tickBudget)
			switch rng.IntN(3) {
			case 0:
				cond += " and workload.flag"
			case 1:
				cond += " and ctx.ticks % 3 != 1"
			}
			target := rng.IntN(n)
			if a == 0 && i+1 < n && rng.IntN(5) < 3 {
				target = i + 1 // mostly onwards, so most steps are reachable
			}
			fmt.Fprintf(&b, "        - step: %s\n          when: \"{{ %s }}\"\n", name(target), cond)
		}
	}
	return b.String()
}

// checkRandomRun runs the playbook of seed with a worker driven by the same seed and
// checks the properties.
func checkRandomRun(t *testing.T, seed uint64) {
	src := randomPlaybook(seed)
	pb := mustParse(t, src)
	rng := rand.New(rand.NewPCG(seed, 7))
	r := &simRun{t: t, e: New(tmpl.New(0), &seqIDs{}), pb: pb, st: NewState(9, 8, pb.Metadata.Path), stored: iterationStore{}}
	out, err := r.e.Start(r.st, pb, map[string]any{"flag": pb.WorkloadMap()["flag"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.append(out)
	for guard := 0; !r.st.Terminal() || r.st.InFlight() > 0; guard++ {
		if guard > 5000 {
			t.Fatalf("seed %d: the run did not end\n%s", seed, src)
		}
		if r.st.InFlight() == 0 {
			t.Fatalf("seed %d: RUNNING with nothing in flight\n%s\n%q", seed, src, decisionLog(r.log))
		}
		c := r.randomCommand(rng)
		r.finish(c, rng.IntN(16) == 0)
	}
	for _, f := range r.st.Failures {
		if strings.Contains(f.Error, "did not converge") {
			t.Fatalf("seed %d: a pass hit the work bound: %s\n%s", seed, f.Error, src)
		}
	}
	if msg := checkRunProperties(r); msg != "" {
		t.Fatalf("seed %d: %s\n%s\n%q", seed, msg, src, decisionLog(r.log))
	}
}

// finish posts a command's worker events: success, or a failure.
func (r *simRun) finish(c *CommandState, fail bool) {
	for _, ev := range workerEvents(r.issuedEvent(c.Key), fail, "boom", nil) {
		r.post(ev)
	}
}

// checkRunProperties returns the first property the run's event log breaks, or "".
func checkRunProperties(r *simRun) string {
	g := graphOf(r.pb, r.e.R)
	terminalAt := -1
	for i, ev := range r.log {
		if _, ok := TerminalStatus(ev.Type); ok {
			if terminalAt >= 0 {
				return fmt.Sprintf("a second terminal event %s at %d", ev.Type, i)
			}
			terminalAt = i
		}
	}
	if terminalAt < 0 {
		return "no terminal event"
	}
	type entry struct {
		open  bool
		cmds  int
		iters map[int64]bool
	}
	entries := map[string]*entry{}
	outstanding := map[string]string{} // command id → step
	running := map[string]int{}        // step → commands in flight
	ended := map[string]int{}          // command id → terminal events
	for i, ev := range r.log {
		switch {
		case ev.Type == TypeStepEnter:
			if ups := g.fwdIn[ev.Step]; len(ups) > 1 {
				for _, u := range ups {
					if running[u] > 0 {
						return fmt.Sprintf("join %s entered at %d while its upstream %s has %d commands in flight", ev.Step, i, u, running[u])
					}
				}
			}
			entries[ev.Step] = &entry{open: true, iters: map[int64]bool{}}
		case ev.Type == TypeCommandIssued:
			if i > terminalAt {
				return fmt.Sprintf("command.issued of %s at %d after the terminal event", ev.Step, i)
			}
			en := entries[ev.Step]
			if en == nil || !en.open {
				return fmt.Sprintf("command.issued of %s at %d outside an entry", ev.Step, i)
			}
			if idx, ok := ev.Meta["iteration_index"].(int64); ok {
				if en.iters[idx] {
					return fmt.Sprintf("iteration %d of %s issued twice in one entry", idx, ev.Step)
				}
				en.iters[idx] = true
			} else if en.cmds++; en.cmds > 1 {
				return fmt.Sprintf("step %s issued twice in one entry (at %d)", ev.Step, i)
			}
			key := keyString(ev.Meta["command_id"])
			outstanding[key] = ev.Step
			running[ev.Step]++
		case IsCompletion(ev.Type) || IsFailure(ev.Type):
			key := CommandKeyOf(ev)
			if step, ok := outstanding[key]; ok {
				delete(outstanding, key)
				running[step]--
			}
			if ended[key]++; i > terminalAt {
				return fmt.Sprintf("command %s ends at %d after the terminal event", key, i)
			}
		}
	}
	for key, n := range ended {
		if n != 1 {
			return fmt.Sprintf("command %s has %d terminal events", key, n)
		}
	}
	if len(outstanding) > 0 {
		return fmt.Sprintf("%d commands never ended", len(outstanding))
	}
	return ""
}

func TestRandomGraphsProperties(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 400; seed++ {
		checkRandomRun(t, seed)
	}
}

func FuzzRandomGraphs(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkRandomRun(t, seed) })
}

// randomCommand picks one outstanding command with rng, from the commands in key order
// so that a seed replays the same run.
func (r *simRun) randomCommand(rng *rand.Rand) *CommandState {
	keys := r.commandKeys()
	return r.st.Commands[keys[rng.IntN(len(keys))]]
}

// commandKeys are the keys of the outstanding commands, sorted.
func (r *simRun) commandKeys() []string {
	keys := make([]string, 0, len(r.st.Commands))
	for k := range r.st.Commands {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
