package runtimes

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "io"
import "log/slog"
import "slices"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"

func ctxT(t *testing.T) context.Context { return testkit.Context(t, 30*time.Second) }

func newStore(t *testing.T) (*Store, *testkit.Schema) {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	return NewStore(s.Pool), s
}

func strp(s string) *string { return &s }
func i32p(v int32) *int32   { return &v }

// setHeartbeatAgo moves a row's heartbeat into the past.
func setHeartbeatAgo(t *testing.T, s *testkit.Schema, kind, name string, ago time.Duration) {
	t.Helper()
	tag, err := s.Pool.Exec(ctxT(t), `UPDATE runtime SET heartbeat = now() - make_interval(secs => $3), updated_at = now() - make_interval(secs => $3)
		WHERE kind = $1 AND name = $2`, kind, name, ago.Seconds())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("backdate %s %s: %v (%d rows)", kind, name, err, tag.RowsAffected())
	}
}

func TestRegisterInsertsThenUpsertKeepsID(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := ctxT(t)
	first, err := st.Register(ctx, 1001, Registration{
		Name: "pool-a", Kind: "worker_pool", URI: strp("http://w1:9000"), Status: "active",
		Labels: json.RawMessage(`["gpu"]`), Capabilities: json.RawMessage(`{"python":true}`),
		Capacity: i32p(4), Runtime: json.RawMessage(`{"worker_public_key":"abc","n":9007199254740993}`),
	})
	if err != nil {
		t.Fatalf("first Register: %v", err)
	}
	if first.RuntimeID != 1001 || first.Name != "pool-a" || first.Kind != "worker_pool" || *first.URI != "http://w1:9000" ||
		first.Status != "active" || *first.Capacity != 4 {
		t.Errorf("first Register = %+v", first)
	}
	if !jsonEqual(first.Labels, `["gpu"]`) || !jsonEqual(first.Capabilities, `{"python":true}`) ||
		!jsonEqual(first.Runtime, `{"worker_public_key":"abc","n":9007199254740993}`) {
		t.Errorf("JSON columns = %s %s %s", first.Labels, first.Capabilities, first.Runtime)
	}
	created := time.Time(first.CreatedAt)
	if d := time.Since(created); d < -time.Minute || d > time.Minute {
		t.Errorf("created_at %v is not now", created)
	}

	time.Sleep(5 * time.Millisecond)
	second, err := st.Register(ctx, 2002, Registration{
		Name: "pool-a", Kind: "worker_pool", URI: strp("http://w2:9000"), Status: "ready",
		Labels: json.RawMessage(`["cpu"]`), Capacity: i32p(8),
	})
	if err != nil {
		t.Fatalf("re-Register: %v", err)
	}
	if second.RuntimeID != 1001 {
		t.Errorf("re-register changed runtime_id to %d, want 1001", second.RuntimeID)
	}
	if *second.URI != "http://w2:9000" || second.Status != "ready" || *second.Capacity != 8 || !jsonEqual(second.Labels, `["cpu"]`) {
		t.Errorf("re-register did not update fields: %+v", second)
	}
	// Fields absent from the new registration are cleared, as upstream's UPDATE does.
	if string(second.Capabilities) != "null" || string(second.Runtime) != "null" {
		t.Errorf("absent fields kept old values: capabilities %s runtime %s", second.Capabilities, second.Runtime)
	}
	if !time.Time(second.CreatedAt).Equal(created) {
		t.Errorf("created_at changed: %v -> %v", created, time.Time(second.CreatedAt))
	}
	if !time.Time(second.UpdatedAt).After(time.Time(first.UpdatedAt)) || !time.Time(second.Heartbeat).After(time.Time(first.Heartbeat)) {
		t.Errorf("updated_at/heartbeat not advanced: %v/%v -> %v/%v", time.Time(first.UpdatedAt), time.Time(first.Heartbeat),
			time.Time(second.UpdatedAt), time.Time(second.Heartbeat))
	}
	rows, err := st.List(ctx, Filter{})
	if err != nil || len(rows) != 1 {
		t.Errorf("List after upsert = %d rows, %v; want 1", len(rows), err)
	}
	// Same name under another kind is another row.
	other, err := st.Register(ctx, 3003, Registration{Name: "pool-a", Kind: "broker", Status: "ready"})
	if err != nil || other.RuntimeID != 3003 {
		t.Errorf("same name, other kind: %+v, %v", other, err)
	}
}

func jsonEqual(raw json.RawMessage, want string) bool {
	var a, b any
	da := json.NewDecoder(bytes.NewReader(raw))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader([]byte(want)))
	db.UseNumber()
	if da.Decode(&a) != nil || db.Decode(&b) != nil {
		return false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestRegisterNullsAndKindCheck(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := ctxT(t)
	rt, err := st.Register(ctx, 1, Registration{Name: "bare", Kind: "worker_pool", Status: "active", Labels: json.RawMessage("null")})
	if err != nil {
		t.Fatal(err)
	}
	if rt.URI != nil || rt.Capacity != nil || string(rt.Labels) != "null" || string(rt.Capabilities) != "null" || string(rt.Runtime) != "null" {
		t.Errorf("optional fields = %+v, want nulls", rt)
	}
	if _, err := st.Register(ctx, 2, Registration{Name: "x", Kind: "lambda", Status: "active"}); err == nil {
		t.Error("the table accepted kind lambda")
	}
}

// TestRegisterConcurrentFirstRegistrations: many first registrations of the same
// (kind, name) racing each other all succeed and agree on one runtime_id.
func TestRegisterConcurrentFirstRegistrations(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]Runtime, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = st.Register(ctxT(t), int64(100+i), Registration{Name: "racer", Kind: "worker_pool", Status: "active"})
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("registration %d: %v", i, errs[i])
		}
	}
	for i := 1; i < n; i++ {
		if got[i].RuntimeID != got[0].RuntimeID {
			t.Errorf("registration %d got runtime_id %d, registration 0 got %d", i, got[i].RuntimeID, got[0].RuntimeID)
		}
	}
	var count int
	if err := s.Pool.QueryRow(ctxT(t), `SELECT count(*) FROM runtime WHERE kind = 'worker_pool' AND name = 'racer'`).Scan(&count); err != nil || count != 1 {
		t.Errorf("%d rows for racer, want 1 (%v)", count, err)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := ctxT(t)
	if err := st.Heartbeat(ctx, "worker_pool", "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Heartbeat of a missing row = %v, want ErrNotFound", err)
	}
	if _, err := st.Register(ctx, 1, Registration{Name: "w", Kind: "worker_pool", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, "broker", "w"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Heartbeat with the wrong kind = %v, want ErrNotFound", err)
	}
	setHeartbeatAgo(t, s, "worker_pool", "w", time.Hour)
	if err := st.Heartbeat(ctx, "worker_pool", "w"); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	rt, err := st.Get(ctx, "worker_pool", "w")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.Time(rt.Heartbeat)); d > time.Minute {
		t.Errorf("heartbeat is %v old after Heartbeat", d)
	}
	if rt.Status != "active" {
		t.Errorf("Heartbeat changed status active to %q", rt.Status)
	}

	// A row the sweep marked offline comes back ready.
	if err := st.SetStatus(ctx, "worker_pool", "w", "offline"); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, "worker_pool", "w"); err != nil {
		t.Fatal(err)
	}
	if rt, _ := st.Get(ctx, "worker_pool", "w"); rt.Status != "ready" {
		t.Errorf("status after heartbeat of an offline row = %q, want ready", rt.Status)
	}
}

func TestDeregister(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := ctxT(t)
	for _, k := range []string{"worker_pool", "broker"} {
		if _, err := st.Register(ctx, int64(len(k)), Registration{Name: "d", Kind: k, Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Deregister(ctx, "worker_pool", "d"); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if _, err := st.Get(ctx, "worker_pool", "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Deregister = %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, "broker", "d"); err != nil {
		t.Errorf("Deregister removed the row of another kind: %v", err)
	}
	if err := st.Deregister(ctx, "worker_pool", "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Deregister = %v, want ErrNotFound", err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := ctxT(t)
	regs := []Registration{
		{Name: "pool-b", Kind: "worker_pool", Status: "active"},
		{Name: "pool-a", Kind: "worker_pool", Status: "ready"},
		{Name: "gpu-pool", Kind: "worker_pool", Status: "offline"},
		{Name: "api@host:1", Kind: "server_api", Status: "ready"},
		{Name: "broker-1", Kind: "broker", Status: "ready"},
		{Name: "Pool-Upper", Kind: "worker_pool", Status: "ready"},
		{Name: "100%_done", Kind: "worker_pool", Status: "ready"},
	}
	for i, r := range regs {
		if _, err := st.Register(ctx, int64(i+1), r); err != nil {
			t.Fatal(err)
		}
	}
	names := func(rs []Pool) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Kind+"/"+r.Name)
		}
		return out
	}
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all, ordered by kind then name", Filter{}, []string{"broker/broker-1", "server_api/api@host:1",
			"worker_pool/100%_done", "worker_pool/Pool-Upper", "worker_pool/gpu-pool", "worker_pool/pool-a", "worker_pool/pool-b"}},
		{"kind", Filter{Kind: "worker_pool"}, []string{"worker_pool/100%_done", "worker_pool/Pool-Upper", "worker_pool/gpu-pool", "worker_pool/pool-a", "worker_pool/pool-b"}},
		{"status", Filter{Status: "ready"}, []string{"broker/broker-1", "server_api/api@host:1", "worker_pool/100%_done", "worker_pool/Pool-Upper", "worker_pool/pool-a"}},
		{"kind and status", Filter{Kind: "worker_pool", Status: "offline"}, []string{"worker_pool/gpu-pool"}},
		{"name contains, case-sensitive", Filter{Name: "pool"}, []string{"worker_pool/gpu-pool", "worker_pool/pool-a", "worker_pool/pool-b"}},
		{"name wildcard characters are literal", Filter{Name: "%_"}, []string{"worker_pool/100%_done"}},
		{"underscore literal", Filter{Name: "_"}, []string{"worker_pool/100%_done"}},
		{"no match", Filter{Kind: "broker", Name: "pool"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := st.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if rs == nil {
				t.Error("List returned nil, want an empty slice (JSON [])")
			}
			if got := names(rs); !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

// TestMarkStaleOffline: only rows whose heartbeat is older than the threshold and that are
// not already offline change.
func TestMarkStaleOffline(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := ctxT(t)
	for i, name := range []string{"fresh", "stale", "stale-2", "already-offline", "borderline"} {
		if _, err := st.Register(ctx, int64(i+1), Registration{Name: name, Kind: "worker_pool", Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	setHeartbeatAgo(t, s, "worker_pool", "stale", 5*time.Minute)
	setHeartbeatAgo(t, s, "worker_pool", "stale-2", 61*time.Second)
	setHeartbeatAgo(t, s, "worker_pool", "already-offline", time.Hour)
	setHeartbeatAgo(t, s, "worker_pool", "borderline", 50*time.Second)
	if err := st.SetStatus(ctx, "worker_pool", "already-offline", "offline"); err != nil {
		t.Fatal(err)
	}
	before := map[string]Runtime{}
	rows, _ := st.List(ctx, Filter{})
	for _, r := range rows {
		before[r.Name] = r.Runtime
	}

	n, err := st.MarkStaleOffline(ctx, time.Minute, WatchedForever)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("MarkStaleOffline = %d, want 2", n)
	}
	want := map[string]string{"fresh": "active", "stale": "offline", "stale-2": "offline", "already-offline": "offline", "borderline": "active"}
	rows, _ = st.List(ctx, Filter{})
	for _, r := range rows {
		if r.Status != want[r.Name] {
			t.Errorf("%s: status %q, want %q", r.Name, r.Status, want[r.Name])
		}
		untouched := r.Name == "fresh" || r.Name == "borderline" || r.Name == "already-offline"
		if untouched && !time.Time(r.UpdatedAt).Equal(time.Time(before[r.Name].UpdatedAt)) {
			t.Errorf("%s: updated_at changed although the row was not stale", r.Name)
		}
		if !time.Time(r.Heartbeat).Equal(time.Time(before[r.Name].Heartbeat)) {
			t.Errorf("%s: the sweep changed heartbeat", r.Name)
		}
	}
	// Idempotent: a second sweep finds nothing.
	if n, err := st.MarkStaleOffline(ctx, time.Minute, WatchedForever); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}
}

// TestOfflineThresholdStretchesToTheReportedInterval: a worker that reported its
// heartbeat interval is offline (and not live) only after the longer of the configured
// threshold and OfflineIntervals of that interval; one that reported none keeps the
// configured threshold. Heartbeats are aged in SQL against the database's now().
func TestOfflineThresholdStretchesToTheReportedInterval(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := ctxT(t)
	f64p := func(v float64) *float64 { return &v }
	workers := []struct {
		name    string
		every   *float64
		silent  time.Duration
		offline bool
	}{
		{"slow-between-beats", f64p(60), 90 * time.Second, false},
		{"slow-just-inside", f64p(60), 170 * time.Second, false},
		{"slow-gone", f64p(60), 190 * time.Second, true},
		{"no-interval", nil, 90 * time.Second, true},
		{"quick-interval", f64p(10), 90 * time.Second, true},
		{"quick-fresh", f64p(10), 50 * time.Second, false},
	}
	for i, w := range workers {
		if _, err := st.Register(ctx, int64(i+1), Registration{Name: w.name, Kind: "worker_pool", Status: "ready",
			HeartbeatInterval: w.every}); err != nil {
			t.Fatal(err)
		}
		setHeartbeatAgo(t, s, "worker_pool", w.name, w.silent)
	}

	live, err := st.LiveWorkerPools(ctx, time.Minute, WatchedForever)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.MarkStaleOffline(ctx, time.Minute, WatchedForever)
	if err != nil {
		t.Fatal(err)
	}
	wantOffline := 0
	for _, w := range workers {
		t.Run(w.name, func(t *testing.T) {
			if got := !slices.Contains(live, w.name); got != w.offline {
				t.Errorf("missing from LiveWorkerPools = %v, want %v (live: %v)", got, w.offline, live)
			}
			r, err := st.Get(ctx, "worker_pool", w.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Status == "offline"; got != w.offline {
				t.Errorf("status %q after the sweep, want offline = %v", r.Status, w.offline)
			}
		})
		if w.offline {
			wantOffline++
		}
	}
	if n != int64(wantOffline) {
		t.Errorf("MarkStaleOffline = %d, want %d", n, wantOffline)
	}
}

// TestLifecycleSweepWaitsOutItsWatch: a worker silent for ten minutes is judged only
// once the api has watched for longer than the offline threshold: not by the first
// sweep of a process that just started (the silence may be the control plane's own
// outage, which no heartbeat could cross), and not by the first sweep after the
// database failed to answer, which starts the watch again.
func TestLifecycleSweepWaitsOutItsWatch(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := ctxT(t)
	if _, err := st.Register(ctx, 1, Registration{Name: "dead", Kind: "worker_pool", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	setHeartbeatAgo(t, s, "worker_pool", "dead", 10*time.Minute)
	var hookAfter, hookWatched atomic.Int64
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	gen, _ := ids.NewGenerator(1)
	l := NewLifecycle(st, gen, SelfConfig{Name: "api@test", OfflineAfter: 90 * time.Second,
		Clock: func() time.Time { return now }},
		slog.New(slog.NewJSONHandler(io.Discard, nil)),
		func(_ context.Context, after, watched time.Duration) error {
			hookAfter.Store(int64(after))
			hookWatched.Store(int64(watched))
			return nil
		})
	status := func() string {
		t.Helper()
		rt, err := st.Get(ctx, "worker_pool", "dead")
		if err != nil {
			t.Fatal(err)
		}
		return rt.Status
	}
	sweep := func(wantStatus string, wantWatched time.Duration) {
		t.Helper()
		l.SweepOnce(ctx)
		if got := status(); got != wantStatus {
			t.Errorf("status after a sweep with %v watched = %q, want %q", wantWatched, got, wantStatus)
		}
		if time.Duration(hookAfter.Load()) != 90*time.Second || time.Duration(hookWatched.Load()) != wantWatched {
			t.Errorf("hook got (%v, %v), want (90s, %v)", time.Duration(hookAfter.Load()), time.Duration(hookWatched.Load()), wantWatched)
		}
	}
	sweep("active", 0)
	now = now.Add(90 * time.Second)
	sweep("active", 90*time.Second)
	now = now.Add(time.Second)
	sweep("offline", 91*time.Second)

	// The database stops answering, then answers again: the first sweep judges nothing
	// and the watch starts over.
	if err := st.SetStatus(ctx, "worker_pool", "dead", "active"); err != nil {
		t.Fatal(err)
	}
	l.contact(errors.New("connection refused"))
	now = now.Add(10 * time.Minute)
	sweep("active", 0)
	now = now.Add(60 * time.Second)
	sweep("active", 60*time.Second)
	now = now.Add(31 * time.Second)
	sweep("offline", 91*time.Second)
}

// TestLifecycleRun: the api registers its own row, keeps it alive and marks it offline on
// shutdown.
func TestLifecycleRun(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	gen, _ := ids.NewGenerator(1)
	l := NewLifecycle(st, gen, SelfConfig{
		Name: "api@test:1", LogicalName: "noetl", URI: "http://api:8083", AutoRecreate: true,
		Sweep: 50 * time.Millisecond, OfflineAfter: 60 * time.Second,
	}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	var rt Runtime
	for {
		var err error
		rt, err = st.Get(ctxT(t), "server_api", "api@test:1")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own row not registered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rt.Status != "ready" || rt.URI == nil || *rt.URI != "http://api:8083" || !jsonEqual(rt.Labels, `["logical:noetl"]`) {
		t.Errorf("own row = %+v labels %s", rt, rt.Labels)
	}
	// Deleted behind its back, the row comes back (NOETL_AUTO_RECREATE_RUNTIME).
	if err := st.Deregister(ctxT(t), "server_api", "api@test:1"); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Get(ctxT(t), "server_api", "api@test:1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("own row not recreated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if rt, err := st.Get(ctxT(t), "server_api", "api@test:1"); err != nil || rt.Status != "offline" {
		t.Errorf("own row after shutdown = %q, %v; want offline", rt.Status, err)
	}
}
