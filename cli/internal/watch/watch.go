package watch

import "context"
import "crypto/tls"
import "crypto/x509"
import "errors"
import "fmt"
import "io"
import "net"
import "net/http"
import "sort"
import "strings"
import "text/tabwriter"
import "time"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/shared/publicapi"

// Source is what the watcher reads from the server.
type Source interface {
	Events(ctx context.Context, id client.ID, afterSeq int64, limit int) (client.EventPage, error)
	Status(ctx context.Context, id client.ID) (client.Status, error)
}

// Watcher polls an execution and draws it.
type Watcher struct {
	Source Source
	Out    io.Writer
	// TTY redraws the view in place; otherwise each change is one plain line.
	TTY      bool
	Interval time.Duration // between polls; 500 ms when zero
	// Quiet draws nothing (follow without a view, e.g. with -o json).
	Quiet bool
	Now   func() time.Time // the clock; time.Now when nil
	// RetryFor is how long polls that fail transiently (no answer, connection reset,
	// 502/503/504, 429) are retried, with backoff, before the watch gives up: a router
	// restart or a proxy's hiccup does not end a long watch. 30 s when zero.
	RetryFor time.Duration

	drawn int               // lines of the last in-place view
	seen  map[string]string // step -> the last plain line's state and progress
}

// Run follows execution id until it ends or ctx is done, and returns the final model.
func (w *Watcher) Run(ctx context.Context, id client.ID) (*Model, error) {
	if w.Now == nil {
		w.Now = time.Now
	}
	interval := w.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	w.seen = map[string]string{}
	m := NewModel()
	for {
		if err := w.poll(ctx, id, m, interval); err != nil {
			return m, w.gaveUp(id, err)
		}
		if !m.Terminal() {
			// The status row changes with the terminal event; read it too, so a log that
			// is cut short (retention) still ends the watch.
			var st client.Status
			err := w.retry(ctx, interval, func() (err error) {
				st, err = w.Source.Status(ctx, id)
				return err
			})
			if err != nil {
				return m, w.gaveUp(id, err)
			}
			if publicapi.Terminal(st.Status) {
				if err := w.poll(ctx, id, m, interval); err != nil {
					return m, w.gaveUp(id, err)
				}
				m.Ended(st.Status, w.Now())
			}
		}
		w.draw(id, m)
		if m.Terminal() {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// poll folds every event after the model's last one.
func (w *Watcher) poll(ctx context.Context, id client.ID, m *Model, interval time.Duration) error {
	for {
		var page client.EventPage
		err := w.retry(ctx, interval, func() (err error) {
			page, err = w.Source.Events(ctx, id, m.LastSeq, 0)
			return err
		})
		if err != nil {
			return err
		}
		m.Apply(page.Events)
		if !page.HasMore || len(page.Events) == 0 {
			return nil
		}
	}
}

// retryError is a transient failure that outlasted RetryFor.
type retryError struct {
	after time.Duration
	err   error
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// retry calls f as Retry does, for RetryFor. Every call asks for the same thing (events
// after the model's last one, the status), so a repeat never folds an event twice.
func (w *Watcher) retry(ctx context.Context, interval time.Duration, f func() error) error {
	return Retry(ctx, interval, w.RetryFor, f)
}

// Retry calls f until it succeeds, fails for good, or has failed transiently for limit
// (30 s when zero); the waits between calls start at interval and double up to 5 s. A
// transient failure that outlasts limit comes back for GaveUp to word. events --follow
// polls through it too.
func Retry(ctx context.Context, interval, limit time.Duration, f func() error) error {
	if limit <= 0 {
		limit = 30 * time.Second
	}
	var start time.Time
	wait := max(interval, time.Millisecond)
	for {
		err := f()
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		if start.IsZero() {
			start = time.Now()
		}
		if time.Since(start)+wait > limit {
			return &retryError{after: time.Since(start).Round(time.Second), err: err}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// transient tells a failure that may pass (the server or a proxy restarting, a dropped
// connection, overload) from one that will not (an error answer, an unknown host, a
// certificate the client refuses).
func transient(err error) bool {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			return true
		}
		return false
	}
	var connErr *client.ConnError
	if !errors.As(err, &connErr) {
		return false
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) && !errors.As(err, &certErr) &&
		!errors.As(err, &unknownCA) && !errors.As(err, &hostErr) && !errors.As(err, &invalid)
}

// gaveUp is GaveUp.
func (w *Watcher) gaveUp(id client.ID, err error) error { return GaveUp(id, err) }

// GaveUp words a transient failure that lasted too long (Retry) as one line: what failed,
// for how long, and that the execution itself goes on; other errors pass unchanged.
func GaveUp(id client.ID, err error) error {
	var r *retryError
	if !errors.As(err, &r) {
		return err
	}
	return fmt.Errorf("watch of execution %s stopped after retrying for %s: %w (the execution goes on; `noetl status %s --watch` resumes)", id, r.after, r.err, id)
}

func (w *Watcher) draw(id client.ID, m *Model) {
	if w.Quiet {
		return
	}
	if w.TTY {
		w.drawInPlace(id, m)
		return
	}
	w.drawLines(id, m)
}

// drawInPlace rewrites the whole view over the previous one.
func (w *Watcher) drawInPlace(id client.ID, m *Model) {
	var b strings.Builder
	if w.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", w.drawn) // cursor up, clear to the end of the screen
	}
	view := View(id, m, w.Now())
	b.WriteString(view)
	w.drawn = strings.Count(view, "\n")
	_, _ = io.WriteString(w.Out, b.String())
}

// View is the table of the execution and its steps.
func View(id client.ID, m *Model, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "execution %s %s  %s  %s\n", id, m.Path, m.Status, round(m.Elapsed(now)))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tSTATE\tLOOP\tELAPSED")
	for _, s := range m.Steps {
		loop := ""
		if s.Total > 0 {
			loop = fmt.Sprintf("%d/%d", s.Done, s.Total)
		}
		elapsed := ""
		if s.State != StateSkipped {
			elapsed = round(StepElapsed(s, now)).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, s.State, loop, elapsed)
	}
	_ = tw.Flush()
	return b.String()
}

// drawLines prints one line per step change and one when the execution ends.
func (w *Watcher) drawLines(id client.ID, m *Model) {
	now := w.Now()
	type change struct {
		at   time.Duration
		line string
	}
	var changes []change
	for _, s := range m.Steps {
		key := s.State
		if s.Total > 0 {
			key += fmt.Sprintf(" %d/%d", s.Done, s.Total)
		}
		if w.seen[s.Name] == key {
			continue
		}
		w.seen[s.Name] = key
		changes = append(changes, change{stepOffset(m, s, now), "step " + s.Name + " " + key})
	}
	// One poll can bring several steps' changes: print them in the order they happened.
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].at < changes[j].at })
	for _, c := range changes {
		fmt.Fprintf(w.Out, "[%s] %s\n", round(c.at), c.line)
	}
	if m.Terminal() && w.seen["\x00end"] == "" {
		w.seen["\x00end"] = m.Status
		fmt.Fprintf(w.Out, "execution %s %s in %s\n", id, m.Status, round(m.Elapsed(now)))
	}
}

// stepOffset is the time since the execution started, for the plain lines: when the
// step took the state the line shows (the server's time of the event), not when this
// poll noticed it. Times read off the client's clock at each poll made the lines jump
// backwards ("[545ms] end running" before "[454ms] end completed") and dated a skip at
// the end of the run.
func stepOffset(m *Model, s *Step, now time.Time) time.Duration {
	if m.Started.IsZero() {
		return 0
	}
	at := s.Changed
	if at.IsZero() {
		at = now
		if !m.Finished.IsZero() {
			at = m.Finished
		}
	}
	if at.Before(m.Started) {
		return 0
	}
	return at.Sub(m.Started)
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// Summary is what a watch prints after the view: for a failure, the failing step and
// its error (or the execution's own error when no step failed).
func Summary(m *Model) string {
	switch m.Status {
	case publicapi.StatusCompleted:
		return ""
	case publicapi.StatusCancelled:
		return "the execution was cancelled\n"
	}
	if s := m.FailedStep(); s != nil {
		return fmt.Sprintf("step %s failed: %s\n", s.Name, firstNonEmpty(s.Error, "(no error message)"))
	}
	return fmt.Sprintf("the execution failed: %s\n", firstNonEmpty(m.Error, "(no error message)"))
}
