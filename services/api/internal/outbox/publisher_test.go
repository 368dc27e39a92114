package outbox

import "context"
import "io"
import "log/slog"
import "slices"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/testkit"

// A deployment that set its own subject prefix but kept the default stream name must not
// take over the stream of that name another deployment publishes to: updating its
// subjects to ours cut that deployment's commands off. EnsureStream refuses, and the
// other stream keeps its subjects.
func TestEnsureStreamLeavesAnotherDeploymentsStream(t *testing.T) {
	t.Parallel()
	nc, js := testkit.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	other := testkit.NewCommandNamespace(t, testkit.NATSURL())
	theirs := natsx.Commands{Prefix: other.Prefix, Stream: other.Stream, MaxAge: time.Hour}
	if _, err := js.CreateStream(ctx, theirs.StreamConfig()); err != nil {
		t.Fatal(err)
	}
	mine := testkit.NewCommandNamespace(t, testkit.NATSURL())
	p := NewPublisher(nil, nc, natsx.Commands{Prefix: mine.Prefix, Stream: other.Stream, MaxAge: time.Hour},
		prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(io.Discard, nil)))

	if p.EnsureStream(ctx) {
		t.Error("EnsureStream succeeded on a stream name that holds another prefix's subjects")
	}
	s, err := js.Stream(ctx, other.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, theirs.Subjects()) {
		t.Errorf("the other deployment's stream now covers %v, want %v", got, theirs.Subjects())
	}
}

// The periodic recheck notices a command stream that was deleted and lets the next
// ensure create it again (with the commands republished), but leaves a stream that is
// still there as it is: ensuring it every recheck undid an operator's edit to its
// settings within seconds.
func TestRecheckStreamLeavesALiveStreamAlone(t *testing.T) {
	t.Parallel()
	nc, js := testkit.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	ns := testkit.NewCommandNamespace(t, testkit.NATSURL())
	cmds := natsx.Commands{Prefix: ns.Prefix, Stream: ns.Stream, MaxAge: time.Hour}
	p := NewPublisher(nil, nc, cmds, prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	var found []time.Time
	foundCh := make(chan time.Time, 4)
	p.OnStreamEnsured(func(_ context.Context, created time.Time) { foundCh <- created })
	if !p.EnsureStream(ctx) {
		t.Fatal("EnsureStream failed")
	}
	found = append(found, <-foundCh)

	// An operator raises the stream's message limit by hand.
	cfg := cmds.StreamConfig()
	cfg.MaxMsgs = 12345
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	p.recheckStream(ctx)
	if !p.EnsureStream(ctx) {
		t.Fatal("EnsureStream failed after the recheck")
	}
	s, err := js.Stream(ctx, ns.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxMsgs; got != 12345 {
		t.Errorf("the recheck rewrote the stream's settings: max_msgs %d, want the operator's 12345", got)
	}

	// The stream is deleted: the recheck makes the next ensure create it and report it.
	if err := js.DeleteStream(ctx, ns.Stream); err != nil {
		t.Fatal(err)
	}
	p.recheckStream(ctx)
	if !p.EnsureStream(ctx) {
		t.Fatal("EnsureStream did not create the deleted stream again")
	}
	select {
	case created := <-foundCh:
		found = append(found, created)
	case <-ctx.Done():
		t.Fatal("the new stream was not reported, so its commands would not be republished")
	}
	if !found[1].After(found[0]) {
		t.Errorf("the new stream's creation time %v is not after the first's %v", found[1], found[0])
	}
	if _, err := js.Stream(ctx, ns.Stream); err != nil {
		t.Errorf("the stream was not created again: %v", err)
	}
}
