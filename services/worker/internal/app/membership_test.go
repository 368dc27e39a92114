package app

import "context"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/executor"

type idle struct{}

func (idle) Holding() executor.Holding             { return executor.Holding{} }
func (idle) Release(executor.Holding, []int64) int { return 0 }

// A heartbeat that fails is tried again within a second or two, not a whole interval
// later: once the control plane is back from an outage longer than the claim lease, its
// first sweep requeues every claim no beat renewed, and the commands the worker runs
// would be stopped here and run again elsewhere.
func TestAFailedHeartbeatIsRetriedSoon(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var beats []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		beats = append(beats, time.Now())
		first := len(beats) == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable) // the control plane is down
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	const every = 4 * time.Second
	m := &membership{plane: controlplane.New(srv.URL, srv.Client(), ""), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		every: every, held: idle{}, reg: controlplane.Registration{Name: "w1"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.heartbeat(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(beats)
		var gap time.Duration
		if n >= 2 {
			gap = beats[1].Sub(beats[0])
		}
		mu.Unlock()
		if n >= 2 {
			if gap > every/2 {
				t.Fatalf("the beat after a failed one came %s later (interval %s)", gap, every)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
