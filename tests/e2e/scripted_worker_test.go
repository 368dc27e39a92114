package e2e

import "context"
import "os"
import "path/filepath"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// TestScriptedWorkerDiscovery checks the scripted worker's two ways of finding its
// commands on their own: the JetStream consumer alone (the first command is published
// before the worker learns the execution id, so the consumer must deliver what is already
// in the stream) and the event log alone.
func TestScriptedWorkerDiscovery(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(filepath.Join(root, "testdata", "conformance", "engine", "04_fanin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, string(content)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode scripted.Discovery
		via  string
	}{
		{"nats", scripted.DiscoverNATS, "nats"},
		{"log", scripted.DiscoverLog, "log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := c.execute(ctx, "conformance/engine/fanin", nil)
			if err != nil {
				t.Fatal(err)
			}
			// Start late: the first command is already in the stream.
			time.Sleep(300 * time.Millisecond)
			w := scripted.New(scripted.Config{BaseURL: s.URL, NATSURL: s.NATS, SubjectPrefix: s.Commands.Prefix, Discovery: tc.mode, Logf: t.Logf})
			if err := w.Serve(ctx, id); err != nil {
				t.Fatalf("serve: %v", err)
			}
			claimed := 0
			for _, h := range w.Handled() {
				if h.Via != tc.via {
					t.Errorf("command %s of %s found via %q, want %q", h.EventID, h.Step, h.Via, tc.via)
				}
				if h.Claimed {
					claimed++
				}
			}
			if claimed != 5 {
				t.Errorf("claimed %d commands, want 5 (start, left, right, join, end)", claimed)
			}
			st := c.statuses(ctx, id, "conformance/engine/fanin")
			if len(st.Errs) > 0 || st.Detail != "COMPLETED" {
				t.Errorf("statuses %+v, want COMPLETED", st)
			}
		})
	}
}
