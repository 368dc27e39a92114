package scripted

import (
	"slices"
	"sync"
)

// logState is what the worker knows of its run from the event log, folded in seq order.
// Waiting commands block on changed() and re-check ready().
type logState struct {
	mu          sync.Mutex
	cur         int64
	issued      map[string]int      // command.issued per step
	stepCmds    map[string][]string // command ids per step
	done        map[string]bool     // command ids with a terminal event
	runTerminal bool
	cancelled   bool
	ch          chan struct{} // closed and replaced on every change
}

func newLogState() *logState {
	return &logState{issued: map[string]int{}, stepCmds: map[string][]string{}, done: map[string]bool{}, ch: make(chan struct{})}
}

func (l *logState) cursor() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// apply folds new events and returns the event ids of the command.issued among them.
func (l *logState) apply(evs []Event) []string {
	if len(evs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var issued []string
	for _, ev := range evs {
		if ev.Seq <= l.cur {
			continue
		}
		l.cur = ev.Seq
		switch {
		case ev.EventType == TypeCommandIssued:
			l.issued[ev.NodeName]++
			l.stepCmds[ev.NodeName] = append(l.stepCmds[ev.NodeName], ev.CommandID())
			issued = append(issued, ev.EventID)
		case ev.EventType == TypeCommandCompleted || ev.EventType == TypeCommandFailed:
			for _, id := range ev.TerminalIDs() {
				l.done[id] = true
			}
		}
		if IsCancel(ev.EventType) {
			l.cancelled = true
		}
		if IsRunTerminal(ev.EventType) {
			l.runTerminal = true
		}
	}
	close(l.ch)
	l.ch = make(chan struct{})
	return issued
}

func (l *logState) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}

func (l *logState) terminal() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runTerminal
}

// ready reports whether command cmdID of step, with outcome o, may finish now.
//
// An "after" wait also needs the command's own command.issued folded in: a worker that
// learns of the command from NATS before the log reader has caught up would otherwise
// judge "after" by a stale log that lacks the commands issued just before this one (in a
// loop, the current iteration's command of the other step) and finish too early.
func (l *logState) ready(step, cmdID string, o Outcome) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o.HoldUntilCancelled {
		// A run that ends some other way while a command is held is already wrong;
		// finishing then lets the harness judge it instead of hanging.
		return l.cancelled || l.runTerminal
	}
	if l.runTerminal {
		return true
	}
	if o.After != "" {
		if cmdID != "" && !slices.Contains(l.stepCmds[step], cmdID) {
			return false
		}
		cmds := l.stepCmds[o.After]
		if len(cmds) == 0 {
			return false
		}
		for _, id := range cmds {
			if !l.done[id] {
				return false
			}
		}
	}
	if o.WaitIssued > 0 && l.issued[step] < o.WaitIssued {
		return false
	}
	return true
}
