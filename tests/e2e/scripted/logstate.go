package scripted

import "sync"

// logState is what the worker knows of its run from the event log, folded in seq order.
// Waiting commands block on changed() and re-check ready().
type logState struct {
	mu          sync.Mutex
	cur         int64
	issued      map[string]int      // command.issued per step
	stepCmds    map[string][]string // command ids per step
	seen        map[string]bool     // event ids of the command.issued folded so far
	done        map[string]bool     // command ids with a terminal event
	runTerminal bool
	cancelled   bool
	ch          chan struct{} // closed and replaced on every change
}

func newLogState() *logState {
	return &logState{issued: map[string]int{}, stepCmds: map[string][]string{}, seen: map[string]bool{}, done: map[string]bool{}, ch: make(chan struct{})}
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
			l.seen[ev.EventID] = true
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

// ready reports whether the command issued as eventID, of step, with outcome o, may
// finish now. A condition on the log is not judged before the log shows that
// command.issued: a command found through NATS can be claimed before the log is read
// that far, and the pass that issued it may also have issued commands an `after`
// condition is about (a loop's next round).
func (l *logState) ready(eventID, step string, o Outcome) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (o.After != "" || o.WaitIssued > 0) && !l.seen[eventID] && !l.runTerminal {
		return false
	}
	if o.HoldUntilCancelled {
		// A run that ends some other way while a command is held is already wrong;
		// finishing then lets the harness judge it instead of hanging.
		return l.cancelled || l.runTerminal
	}
	if l.runTerminal {
		return true
	}
	if o.After != "" {
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
