package engine

import (
	"sync"

	"github.com/noetl/controlplane/services/api/internal/playbook"
)

// graph is the static routing graph of a playbook: who routes to whom, what reaches
// what, and each step's fan-in upstreams without back-edge sources.
type graph struct {
	out       map[string][]string
	reach     map[string]map[string]bool // reach[a][b]: b is forward-reachable from a (a reaches a)
	upstreams map[string][]string        // forward upstreams (back-edge sources removed)
}

var graphs sync.Map // *playbook.Playbook → *graph (playbooks are immutable once parsed)

func graphOf(pb *playbook.Playbook) *graph {
	if g, ok := graphs.Load(pb); ok {
		return g.(*graph)
	}
	g := buildGraph(pb)
	actual, _ := graphs.LoadOrStore(pb, g)
	return actual.(*graph)
}

func buildGraph(pb *playbook.Playbook) *graph {
	g := &graph{out: map[string][]string{}, reach: map[string]map[string]bool{}, upstreams: map[string][]string{}}
	in := map[string][]string{}
	for _, st := range pb.Workflow {
		if st.Next == nil {
			continue
		}
		seen := map[string]bool{}
		for _, a := range st.Next.Arcs {
			if a.Step == "" || seen[a.Step] || pb.Step(a.Step) == nil {
				continue
			}
			seen[a.Step] = true
			g.out[st.Name] = append(g.out[st.Name], a.Step)
			in[a.Step] = append(in[a.Step], st.Name)
		}
	}
	for _, st := range pb.Workflow {
		r := map[string]bool{st.Name: true}
		stack := []string{st.Name}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, m := range g.out[n] {
				if !r[m] {
					r[m] = true
					stack = append(stack, m)
				}
			}
		}
		g.reach[st.Name] = r
	}
	for t, srcs := range in {
		for _, u := range srcs {
			if g.reaches(t, u) {
				continue // a back-edge source: t's own cycle comes back through it
			}
			g.upstreams[t] = append(g.upstreams[t], u)
		}
	}
	return g
}

// reaches reports whether b is forward-reachable from a (a reaches itself).
func (g *graph) reaches(a, b string) bool { return g.reach[a][b] }

// isBranchPoint reports whether a step routes into a cycle through itself (the check
// step of a pagination loop): its unmatched exit arcs are not marked skipped, because
// the exit target runs when the cycle ends.
func (g *graph) isBranchPoint(step string) bool {
	for _, t := range g.out[step] {
		if g.reaches(t, step) {
			return true
		}
	}
	return false
}
