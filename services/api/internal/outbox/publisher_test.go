package outbox

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noetl/controlplane/shared/natsx"
	"github.com/noetl/controlplane/shared/testkit"
)

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
