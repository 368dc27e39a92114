package engine

import "fmt"
import "math/rand/v2"
import "os"
import "strconv"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/tmpl"

// The shape property test widens the random graphs of property_test.go with what users
// write beyond the conformance suite: loops over every kind of value `loop.in` can
// render to (a list, an integer, a string, JSON text, an object, an empty list, null)
// and a literal list of templates, parallel loops with and without a concurrency cap,
// loop steps whose tool is a pipeline, arcs with args and set, arcs on event.name and
// on the step's output, a `when` or an arc `when` that fails to render, and acyclic
// graphs next to cyclic ones. Beyond the properties checked there, it checks:
//   - no step is entered (or skipped on its `when`) more often than arcs arrived at it:
//     its entries are at most the routings of the steps with an arc into it (start once
//     more), each routing firing a target once;
//   - in an acyclic playbook every step is entered or skipped at most once: a join
//     fires once, whichever branch finishes last;
//   - a loop never has more iterations in flight than its mode allows, and a loop that
//     completed issued each iteration once;
//   - the final status follows the rules: FAILED exactly when a step failed (a command
//     failure without on_error: continue, or an evaluation error), COMPLETED otherwise,
//     and a completed run closes out no step as cancelled.

// shapeOptions are the features one generated playbook may use.
type shapeOptions struct {
	dag bool // arcs only go to later steps: no cycles
}

// randomShapePlaybook writes a playbook of 2 to 10 steps from seed.
func randomShapePlaybook(seed uint64, opt shapeOptions) string {
	rng := rand.New(rand.NewPCG(seed, 0x5eed5a9e))
	n := 2 + rng.IntN(9)
	name := func(i int) string {
		if i == 0 {
			return "start"
		}
		return fmt.Sprintf("s%d", i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: shape_%d\n  path: tests/shape_%d\nworkload:\n  flag: %v\n  items: [a, b, c]\n  cfg: {x: 1, y: 2}\nworkflow:\n",
		seed, seed, rng.IntN(2) == 0)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - step: %s\n", name(i))
		if i > 0 && rng.IntN(4) == 0 {
			when := []string{
				"{{ false }}", "{{ workload.flag }}", "{{ (ctx.ticks | default(0)) % 2 == 0 }}",
				"{{ from | default('') != 'nobody' }}", "{{ nothing.at.all }}",
			}[rng.IntN(5)]
			if rng.IntN(40) == 0 {
				when = "{{ 1 | nosuchfilter }}" // a when that does not render
			}
			fmt.Fprintf(&b, "    when: \"%s\"\n", when)
		}
		looped := rng.IntN(3) == 0
		if looped {
			ins := []string{
				"\"{{ [] }}\"", "\"{{ 1 }}\"", "\"{{ 3 }}\"", "\"{{ range(2) | list }}\"",
				"\"{{ workload.items }}\"", "\"{{ workload.cfg }}\"", "\"x, y\"", "\"{{ '' }}\"",
				"\"{{ '[1, 2]' }}\"", "\"{{ -1 }}\"", "\"{{ '{\\\"a\\\": 1}' }}\"",
				"[\"{{ workload.cfg }}\", \"{{ workload.items }}\", 3]",
			}
			in := ins[rng.IntN(len(ins))]
			if rng.IntN(40) == 0 {
				in = "\"{{ none }}\"" // not iterable: an evaluation error
			}
			mode := []string{"sequential", "parallel"}[rng.IntN(2)]
			fmt.Fprintf(&b, "    loop:\n      in: %s\n      iterator: it\n      spec: {mode: %s, max_in_flight: %d}\n", in, mode, rng.IntN(4))
		}
		if rng.IntN(6) == 0 {
			b.WriteString("    spec: {on_error: continue}\n")
		}
		if rng.IntN(4) == 0 {
			fmt.Fprintf(&b, "    tool:\n      - first: {kind: noop, result: {step: %s}}\n      - second: {kind: noop, result: {v: 2}}\n", name(i))
		} else {
			fmt.Fprintf(&b, "    tool:\n      kind: noop\n      result: {step: %s}\n", name(i))
		}
		b.WriteString("    set:\n      ctx.ticks: \"{{ (ctx.ticks | default(0)) + 1 }}\"\n")
		if rng.IntN(5) == 0 {
			continue // a step without next ends its branch
		}
		lo := 0
		if opt.dag {
			lo = i + 1
			if lo >= n {
				continue
			}
		}
		fmt.Fprintf(&b, "    next:\n      spec: {mode: %s}\n      arcs:\n", []string{"exclusive", "inclusive"}[rng.IntN(2)])
		for a, arcs := 0, 1+rng.IntN(3); a < arcs; a++ {
			cond := fmt.Sprintf("(ctx.ticks | default(0)) < %d", tickBudget)
			switch rng.IntN(5) {
			case 0:
				cond += " and workload.flag"
			case 1:
				cond += " and ctx.ticks % 3 != 1"
			case 2:
				cond += " and event.name != 'call.error'"
			case 3:
				cond += " and output is defined" // the step's own result (a skipped step has none)
			}
			if rng.IntN(60) == 0 {
				cond += " and (1 | nosuchfilter)" // an arc when that does not render
			}
			target := lo + rng.IntN(n-lo)
			if a == 0 && i+1 < n && rng.IntN(5) < 3 {
				target = i + 1
			}
			fmt.Fprintf(&b, "        - step: %s\n          when: \"{{ %s }}\"\n", name(target), cond)
			switch rng.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "          args: {from: %s, k%d: \"{{ ctx.ticks | default(0) }}\"}\n", name(i), a)
			case 1:
				fmt.Fprintf(&b, "          set: {ctx.via.%s: true}\n", name(i))
			}
		}
	}
	return b.String()
}

// checkShapeRun runs the playbook of seed with a worker driven by the same seed and
// checks the properties of property_test.go and of this file.
func checkShapeRun(t *testing.T, seed uint64, opt shapeOptions) {
	src := randomShapePlaybook(seed, opt)
	pb := mustParse(t, src)
	rng := rand.New(rand.NewPCG(seed, 11))
	r := &simRun{t: t, e: New(tmpl.New(0), &seqIDs{}), pb: pb, st: NewState(9, 8, pb.Metadata.Path), stored: iterationStore{}}
	workload := map[string]any{}
	for k, v := range pb.WorkloadMap() {
		workload[k] = v
	}
	out, err := r.e.Start(r.st, pb, workload, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.append(out)
	for guard := 0; !r.st.Terminal() || r.st.InFlight() > 0; guard++ {
		if guard > 20000 {
			t.Fatalf("seed %d: the run did not end\n%s", seed, src)
		}
		if r.st.InFlight() == 0 {
			t.Fatalf("seed %d: RUNNING with nothing in flight\n%s\n%q", seed, src, decisionLog(r.log))
		}
		keys := r.commandKeys()
		c := r.st.Commands[keys[rng.IntN(len(keys))]]
		switch roll := rng.IntN(60); {
		case roll == 0 && !r.st.Terminal():
			// Cancelled mid-run: the commands out keep reporting, and change nothing.
			evs, err := r.e.Cancel(r.st, "test")
			if err != nil {
				t.Fatal(err)
			}
			r.append(evs)
			for _, k := range keys {
				r.finish(&CommandState{Key: k}, false)
			}
		case roll == 1:
			// Lost-worker recovery ran out of claims: the engine fails the command.
			evs, err := r.e.FailCommand(r.st, pb, c.Key, "the command was claimed 3 times and never finished", r.stored)
			if err != nil {
				t.Fatal(err)
			}
			r.append(evs)
		case roll == 2:
			// Delivered twice: the second report finds the command finished.
			r.finish(c, false)
			r.finish(c, false)
		default:
			r.finish(c, rng.IntN(20) == 0)
		}
	}
	for _, f := range r.st.Failures {
		if strings.Contains(f.Error, "did not converge") {
			t.Fatalf("seed %d: a pass hit the work bound: %s\n%s", seed, f.Error, src)
		}
	}
	// Reports the engine had to ignore (a second delivery, what the worker posts for a
	// command of a cancelled run) are left out of the properties of property_test.go,
	// which count one terminal event per command before the end; after the end the
	// engine itself writes nothing.
	reported := &simRun{t: r.t, e: r.e, pb: r.pb, st: r.st}
	ended, end := map[string]bool{}, false
	for _, ev := range r.log {
		if IsCompletion(ev.Type) || IsFailure(ev.Type) {
			key := CommandKeyOf(ev)
			if ended[key] || end {
				continue
			}
			ended[key] = true
		} else if end && ev.Meta["emitted_by"] == "orchestrator" {
			t.Fatalf("seed %d: the engine wrote %s after the end\n%s", seed, ev.Type, src)
		}
		if _, ok := TerminalStatus(ev.Type); ok {
			end = true
		}
		reported.log = append(reported.log, ev)
	}
	msg := checkRunProperties(reported)
	if r.st.Status == StatusCancelled && strings.HasSuffix(msg, "commands never ended") {
		msg = "" // the cancel closed them: what their worker reported later is left out
	}
	if msg == "" {
		msg = checkShapeProperties(r, opt)
	}
	if msg != "" {
		t.Fatalf("seed %d: %s\n%s\n%q", seed, msg, src, decisionLog(r.log))
	}
}

// checkShapeProperties returns the first of this file's properties the run breaks, or "".
func checkShapeProperties(r *simRun, opt shapeOptions) string {
	entries := map[string]int{}  // step.enter and when-skips
	routings := map[string]int{} // completions routed (ctx.updated of the step set) and when-skips
	failedCmd, evalErr, cancelled := false, false, false
	cancelledSteps := 0
	type loopEntry struct {
		total, issued, inFlight, peak int
		mode                          string
		cap                           int
		done                          bool
		keys                          map[string]bool
	}
	loops := map[string]*loopEntry{} // current entry of each loop step
	var finished []*loopEntry
	for _, ev := range r.log {
		switch ev.Type {
		case TypeStepEnter:
			entries[ev.Step]++
			if def := r.pb.Step(ev.Step); def != nil && def.Loop != nil {
				ctx, _ := resultContext(ev)["iterations_expected"].(int64)
				le := &loopEntry{total: int(ctx), mode: def.Loop.Mode, cap: int(def.Loop.MaxInFlight), keys: map[string]bool{}}
				if le.mode == "" {
					le.mode = "sequential"
				}
				loops[ev.Step] = le
				finished = append(finished, le)
			}
		case TypeStepSkipped:
			if skipReason(ev) == SkipWhen {
				entries[ev.Step]++
				routings[ev.Step]++
			}
		case TypeCtxUpdated:
			routings[ev.Step]++
		case TypeStepExit:
			if ev.Meta["reason"] == ReasonEvaluateError {
				evalErr = true
			}
			if le := loops[ev.Step]; le != nil && ev.Status == StatusCompleted {
				le.done = true
			}
		case TypeStepCancelled:
			cancelledSteps++
		case TypePlaybookCancelled:
			cancelled = true
		case TypeCommandIssued:
			if le := loops[ev.Step]; le != nil {
				le.issued++
				le.inFlight++
				le.peak = max(le.peak, le.inFlight)
				le.keys[keyString(ev.Meta["command_id"])] = true
			}
		default:
			if IsCompletion(ev.Type) || IsFailure(ev.Type) {
				key := CommandKeyOf(ev)
				for _, le := range loops {
					if le.keys[key] {
						delete(le.keys, key)
						le.inFlight--
					}
				}
				if IsFailure(ev.Type) && !continueOnError(r.pb, ev.Step) && r.st.Status != StatusCancelled {
					failedCmd = true
				}
			}
		}
	}
	for _, s := range r.pb.Workflow {
		arrivals := 0
		if s.Name == "start" {
			arrivals++
		}
		for _, u := range r.pb.Workflow {
			if u.Next == nil {
				continue
			}
			for _, a := range u.Next.Arcs {
				if a.Step == s.Name {
					arrivals += routings[u.Name]
					break
				}
			}
		}
		if entries[s.Name] > arrivals {
			return fmt.Sprintf("step %s entered %d times, but arcs arrived %d times", s.Name, entries[s.Name], arrivals)
		}
		if opt.dag && entries[s.Name] > 1 {
			return fmt.Sprintf("step %s of an acyclic playbook entered %d times", s.Name, entries[s.Name])
		}
	}
	for _, le := range finished {
		limit := 1
		if le.mode == "parallel" {
			limit = le.total
			if le.cap > 0 {
				limit = min(le.cap, le.total)
			}
		}
		if le.peak > limit {
			return fmt.Sprintf("a %s loop (max_in_flight %d) had %d iterations in flight", le.mode, le.cap, le.peak)
		}
		if le.done && le.issued != le.total {
			return fmt.Sprintf("a completed loop of %d iterations issued %d", le.total, le.issued)
		}
	}
	wantFailed := failedCmd || evalErr
	switch {
	case cancelled:
		if r.st.Status != StatusCancelled {
			return fmt.Sprintf("status %s after a cancel", r.st.Status)
		}
	case wantFailed && r.st.Status != StatusFailed:
		return fmt.Sprintf("status %s, but a step failed", r.st.Status)
	case !wantFailed && r.st.Status != StatusCompleted:
		return fmt.Sprintf("status %s, but no step failed (failures %+v)", r.st.Status, r.st.Failures)
	case r.st.Status == StatusCompleted && cancelledSteps > 0:
		return fmt.Sprintf("a completed run closed out %d steps as cancelled", cancelledSteps)
	}
	for name, st := range r.st.Steps {
		if st.Phase == PhaseRunning {
			return fmt.Sprintf("step %s still running after the end", name)
		}
	}
	return ""
}

func TestRandomShapesProperties(t *testing.T) {
	t.Parallel()
	for _, opt := range []shapeOptions{{dag: true}, {dag: false}} {
		t.Run(fmt.Sprintf("dag=%v", opt.dag), func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= shapeSeeds(); seed++ {
				checkShapeRun(t, seed, opt)
			}
		})
	}
}

func FuzzRandomShapes(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, seed uint64, dag bool) { checkShapeRun(t, seed, shapeOptions{dag: dag}) })
}

func shapeSeeds() uint64 {
	if v := os.Getenv("SHAPE_SEEDS"); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		return n
	}
	return 600
}
