package engine

import "sync"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

// graph is the static routing graph of a playbook (docs/engine.md, "The graph"): who
// routes to whom, which arcs are back-edges, each step's forward upstreams, and what
// each of its decisions can read from the context.
//
// Back-edges are the arcs a depth-first walk from `start`, following arcs in the order
// they are written, finds pointing at a step still on the walk's path (an ancestor, or
// the step itself). Every other arc is forward, and forward arcs form a DAG.
type graph struct {
	index map[string]int // step name → position in the workflow
	names []string
	// out lists each step's arc targets in arc order (known steps, first arc per target).
	out  map[string][]string
	back map[string]map[string]bool // back[src][dst]: src → dst is a back-edge
	// fwdIn lists each step's forward upstreams: the sources of its forward arcs.
	fwdIn map[string][]string

	mu        sync.Mutex
	ancestors map[string]bitset // steps that forward-reach a step, computed on demand

	scopes map[string]*stepScopes
}

// stepScopes is what each decision about one step can read from the context.
type stepScopes struct {
	when, set, route, loop, tool *scope
}

var graphs sync.Map // *playbook.Playbook → *graph (playbooks are immutable once parsed)

func graphOf(pb *playbook.Playbook, r *tmpl.Renderer) *graph {
	if g, ok := graphs.Load(pb); ok {
		return g.(*graph)
	}
	g := buildGraph(pb, r)
	actual, _ := graphs.LoadOrStore(pb, g)
	return actual.(*graph)
}

func buildGraph(pb *playbook.Playbook, r *tmpl.Renderer) *graph {
	g := &graph{
		index: map[string]int{}, out: map[string][]string{}, back: map[string]map[string]bool{},
		fwdIn: map[string][]string{}, ancestors: map[string]bitset{}, scopes: map[string]*stepScopes{},
	}
	for i, st := range pb.Workflow {
		g.index[st.Name] = i
		g.names = append(g.names, st.Name)
	}
	for _, st := range pb.Workflow {
		if st.Next == nil {
			continue
		}
		seen := map[string]bool{}
		for _, a := range st.Next.Arcs {
			if _, known := g.index[a.Step]; !known || seen[a.Step] {
				continue
			}
			seen[a.Step] = true
			g.out[st.Name] = append(g.out[st.Name], a.Step)
		}
	}
	g.classify(pb)
	for _, st := range pb.Workflow {
		g.scopes[st.Name] = scopesOf(st, r)
	}
	return g
}

// classify walks the graph depth first from `start` (then from any step the walk did not
// reach, in workflow order) and marks back-edges.
func (g *graph) classify(pb *playbook.Playbook) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(g.names))
	type frame struct {
		step string
		next int // next arc to follow
	}
	walk := func(root string) {
		stack := []frame{{step: root}}
		state[g.index[root]] = onPath
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			targets := g.out[top.step]
			if top.next == len(targets) {
				state[g.index[top.step]] = done
				stack = stack[:len(stack)-1]
				continue
			}
			t := targets[top.next]
			top.next++
			switch state[g.index[t]] {
			case onPath:
				if g.back[top.step] == nil {
					g.back[top.step] = map[string]bool{}
				}
				g.back[top.step][t] = true
			case unseen:
				state[g.index[t]] = onPath
				stack = append(stack, frame{step: t})
			}
		}
	}
	if _, ok := g.index["start"]; ok {
		walk("start")
	}
	for _, name := range g.names {
		if state[g.index[name]] == unseen {
			walk(name)
		}
	}
	for _, st := range pb.Workflow {
		for _, t := range g.out[st.Name] {
			if !g.isBack(st.Name, t) {
				g.fwdIn[t] = append(g.fwdIn[t], st.Name)
			}
		}
	}
}

// isBack reports whether the arc src → dst is a back-edge.
func (g *graph) isBack(src, dst string) bool { return g.back[src][dst] }

// isBranchPoint reports whether a step leads back into a cycle (it has a back-edge out):
// its unmatched exit arcs are not marked skipped, because the exit target runs when the
// cycle ends.
func (g *graph) isBranchPoint(step string) bool { return len(g.back[step]) > 0 }

// ancestorsOf returns the steps that reach step through forward arcs (step excluded).
// Computed once per step and playbook, only for steps a barrier has to check.
func (g *graph) ancestorsOf(step string) bitset {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.ancestors[step]; ok {
		return a
	}
	a := newBitset(len(g.names))
	stack := append([]string(nil), g.fwdIn[step]...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i := g.index[n]
		if a.has(i) {
			continue
		}
		a.set(i)
		stack = append(stack, g.fwdIn[n]...)
	}
	g.ancestors[step] = a
	return a
}

// forwardReaches reports whether from reaches step through forward arcs (from ≠ step).
func (g *graph) forwardReaches(from, step string) bool {
	i, ok := g.index[from]
	return ok && g.ancestorsOf(step).has(i)
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
