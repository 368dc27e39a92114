package commandfeed

import "context"
import "fmt"
import "io"
import "log/slog"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/services/worker/internal/executor"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/testkit"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want executor.Notification
		err  string
	}{
		{`{"command_id":"612:start:613","event_id":613,"execution_id":612,"server_url":"http://cp:8082","step":"start"}`,
			executor.Notification{ExecutionID: 612, EventID: 613, CommandID: "612:start:613", Step: "start", ServerURL: "http://cp:8082"}, ""},
		{`{"command_id":7,"event_id":"9223372036854775807","execution_id":"3900000000000000123","step":"s","server_url":""}`,
			executor.Notification{ExecutionID: 3900000000000000123, EventID: 9223372036854775807, CommandID: "7", Step: "s"}, ""},
		{`{"event_id":1}`, executor.Notification{}, "execution_id"},
		{`{"execution_id":1,"event_id":1.5}`, executor.Notification{}, "event_id"},
		{`not json`, executor.Notification{}, "decode json"},
	}
	for _, tc := range tests {
		got, err := Parse([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%s) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%s) = %+v, %v", tc.in, got, err)
		}
	}
}

// sink takes work with a fixed number of slots and acknowledges after a while.
type sink struct {
	mu       sync.Mutex
	slots    int
	busy     int
	peak     int
	got      []executor.Notification
	freed    chan struct{}
	received chan struct{}
}

func (s *sink) WaitFree(ctx context.Context) (int, error) {
	for {
		s.mu.Lock()
		free := s.slots - s.busy
		s.mu.Unlock()
		if free > 0 {
			return free, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.freed:
		}
	}
}

func (s *sink) Submit(w executor.Work) {
	s.mu.Lock()
	s.busy++
	s.peak = max(s.peak, s.busy)
	s.got = append(s.got, w.Note)
	s.mu.Unlock()
	s.received <- struct{}{}
	go func() {
		time.Sleep(20 * time.Millisecond) // the "command" takes a moment
		w.Delivery.Ack()
		s.mu.Lock()
		s.busy--
		s.mu.Unlock()
		select {
		case s.freed <- struct{}{}:
		default:
		}
	}()
}

// The feed creates the stream and the pool's consumer, pulls no more than the free
// slots, and delivers every notification of its pool (none of the system pool's).
func TestFeedPullsWithinFreeSlots(t *testing.T) {
	t.Parallel()
	ns := testkit.NewCommandNamespace(t, testkit.NATSURL())
	cmds := natsx.Commands{Prefix: ns.Prefix, Stream: ns.Stream, MaxAge: time.Hour}
	nc, err := nats.Connect(testkit.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{slots: 2, freed: make(chan struct{}, 1), received: make(chan struct{}, 64)}
	ready := make(chan bool, 16)
	f := New(js, cmds, natsx.PoolShared, "t_consumer", s, slog.New(slog.NewTextHandler(io.Discard, nil)), func(b bool) {
		select {
		case ready <- b:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for b := range ready {
		if b {
			break
		}
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	for i := 1; i <= 6; i++ {
		if _, err := js.Publish(pctx, cmds.Subject(natsx.PoolShared, int64(100+i)), []byte(fmt.Sprintf(`{"execution_id":%d,"event_id":%d,"command_id":"c","step":"s","server_url":""}`, 100+i, i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(pctx, cmds.Subject(natsx.PoolSystem, 999), []byte(`{"execution_id":999,"event_id":999}`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		select {
		case <-s.received:
		case <-time.After(20 * time.Second):
			t.Fatalf("received %d of 6 notifications", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peak > 2 {
		t.Errorf("%d notifications outstanding at once with 2 slots", s.peak)
	}
	for _, n := range s.got {
		if n.ExecutionID == 999 {
			t.Errorf("a shared-pool worker got a system-pool notification")
		}
	}
}
