package ids

import "errors"
import "hash/fnv"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/config"

// Composition vectors of upstream's id layout (docs/decisions.md, "Ids and sharding").
func TestComposeVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms      int64
		machine uint16
		seq     uint16
		want    int64
	}{
		{1704067200000, 0, 0, 0},
		{1704067200000, 1, 0, 4096},
		{1704067200000, 0, 1, 1},
		{1704067200001, 0, 0, 4194304},
		{1780704000000, 1, 0, 321438036787204096},
		{1780704000000, 1023, 4095, 321438036791394303},
		{1780704000000, 465, 7, 321438036789104647},
	}
	for _, tc := range tests {
		t.Run(Format(tc.want), func(t *testing.T) {
			t.Parallel()
			if got := Compose(tc.ms, tc.machine, tc.seq); got != tc.want {
				t.Errorf("Compose(%d, %d, %d) = %d, want %d", tc.ms, tc.machine, tc.seq, got, tc.want)
			}
			ms, m, s := Parts(tc.want)
			if ms != tc.ms || m != tc.machine || s != tc.seq {
				t.Errorf("Parts(%d) = (%d, %d, %d), want (%d, %d, %d)", tc.want, ms, m, s, tc.ms, tc.machine, tc.seq)
			}
		})
	}
}

// Decomposition of ids taken from upstream's fixtures.
func TestPartsOfFixtureIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      int64
		ts      int64 // ms since the NoETL epoch
		machine uint16
		seq     uint16
		utc     string
	}{
		{320816801799737344, 76488686037, 1, 0, "2026-06-04T06:51:26.037Z"},
		{321079436235509760, 76551302966, 1, 0, "2026-06-05T00:15:02.966Z"},
		{478775660589088777, 114149012706, 64, 9, "2027-08-14T04:03:32.706Z"},
	}
	for _, tc := range tests {
		t.Run(Format(tc.id), func(t *testing.T) {
			t.Parallel()
			ms, m, s := Parts(tc.id)
			if ms-EpochMS != tc.ts || m != tc.machine || s != tc.seq {
				t.Errorf("Parts(%d) = (ts %d, %d, %d), want (ts %d, %d, %d)", tc.id, ms-EpochMS, m, s, tc.ts, tc.machine, tc.seq)
			}
			if got := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z"); got != tc.utc {
				t.Errorf("time = %s, want %s", got, tc.utc)
			}
			if Compose(ms, m, s) != tc.id {
				t.Errorf("Compose(Parts(%d)) does not round-trip", tc.id)
			}
		})
	}
}

func TestComposeMasksOutOfRangeParts(t *testing.T) {
	t.Parallel()
	// A machine id or sequence wider than its field must not bleed into the neighbour.
	if got, want := Compose(EpochMS, 1024, 0), int64(0); got != want {
		t.Errorf("Compose(machine 1024) = %d, want %d", got, want)
	}
	if got, want := Compose(EpochMS, 0, 4096), int64(0); got != want {
		t.Errorf("Compose(seq 4096) = %d, want %d", got, want)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for id, want := range map[int64]string{0: "0", 321438036791394303: "321438036791394303", -1: "-1", 9007199254740993: "9007199254740993"} {
		if got := Format(id); got != want {
			t.Errorf("Format(%d) = %q, want %q", id, got, want)
		}
	}
}

// FNV-1a-64 vectors of the machine id derived from a host name.
func TestHashMachineIDVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		seed string
		fnv  uint64 // 0: not pinned
		want uint16
	}{
		{"", 0xcbf29ce484222325, 805},
		{"a", 0xaf63dc4c8601ec8c, 140},
		{"noetl-server-local", 0x670706faf77505d1, 465},
		{"pod-0", 0x49780a352ce61a59, 601},
		{"pod-1", 0, 166},
		{"noetl-server", 0, 595},
		{"noetl-server-0", 0, 862},
		{"noetl-server-pod-0", 0, 984},
		{"very-long-hostname-with-pid-12345", 0, 145},
		{"worker-prod-7", 0x4a9170bc1d9732e7, 743},
	}
	for _, tc := range tests {
		t.Run(tc.seed, func(t *testing.T) {
			t.Parallel()
			if tc.fnv != 0 {
				h := fnv.New64a()
				h.Write([]byte(tc.seed))
				if h.Sum64() != tc.fnv {
					t.Fatalf("FNV-1a 64 of %q = %#x, want %#x", tc.seed, h.Sum64(), tc.fnv)
				}
			}
			if got := HashMachineID(tc.seed); got != tc.want {
				t.Errorf("HashMachineID(%q) = %d, want %d", tc.seed, got, tc.want)
			}
		})
	}
}

func TestDerive(t *testing.T) {
	t.Parallel()
	u := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name         string
		explicit     *uint64
		host, comp   string
		want         uint16
		wantSource   MachineIDSource
		wantErrParts []string
	}{
		{"explicit 0", u(0), "pod-0", "", 0, "NOETL_SERVER_MACHINE_ID", nil},
		{"explicit 1023", u(1023), "pod-0", "", 1023, "NOETL_SERVER_MACHINE_ID", nil},
		{"explicit 1024", u(1024), "pod-0", "", 0, "", []string{"NOETL_SERVER_MACHINE_ID", "1024", "10 bits"}},
		{"explicit huge", u(70000), "", "", 0, "", []string{"NOETL_SERVER_MACHINE_ID", "70000"}},
		{"hostname", nil, "pod-0", "worker-prod-7", 601, "derived from HOSTNAME", nil},
		{"computername fallback", nil, "", "worker-prod-7", 743, "derived from COMPUTERNAME", nil},
		{"default name", nil, "", "", 465, "derived from default name noetl-server-local", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, src, err := Derive(tc.explicit, tc.host, tc.comp)
			if tc.wantErrParts != nil {
				if err == nil {
					t.Fatalf("Derive = %d, want an error", got)
				}
				for _, p := range tc.wantErrParts {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q does not mention %q", err, p)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Derive: %v", err)
			}
			if got != tc.want || src != tc.wantSource {
				t.Errorf("Derive = (%d, %q), want (%d, %q)", got, src, tc.want, tc.wantSource)
			}
		})
	}
}

// TestConfigFromEnvironment loads the machine-id section the way a binary does.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		want       uint16
		wantSource MachineIDSource
		wantErr    string
	}{
		{"explicit 1023", map[string]string{"NOETL_SERVER_MACHINE_ID": "1023", "HOSTNAME": "pod-0"}, 1023, "NOETL_SERVER_MACHINE_ID", ""},
		{"explicit 0 is not unset", map[string]string{"NOETL_SERVER_MACHINE_ID": "0", "HOSTNAME": "pod-0"}, 0, "NOETL_SERVER_MACHINE_ID", ""},
		{"explicit 1024", map[string]string{"NOETL_SERVER_MACHINE_ID": "1024"}, 0, "", "NOETL_SERVER_MACHINE_ID"},
		{"not a number", map[string]string{"NOETL_SERVER_MACHINE_ID": "abc"}, 0, "", "NOETL_SERVER_MACHINE_ID"},
		{"negative", map[string]string{"NOETL_SERVER_MACHINE_ID": "-1"}, 0, "", "NOETL_SERVER_MACHINE_ID"},
		{"hostname", map[string]string{"HOSTNAME": "noetl-server-0", "COMPUTERNAME": "pod-1"}, 862, "derived from HOSTNAME", ""},
		{"computername", map[string]string{"COMPUTERNAME": "pod-1"}, 166, "derived from COMPUTERNAME", ""},
		{"nothing set", map[string]string{}, 465, "derived from default name noetl-server-local", ""},
		{"ordinal plus offset", map[string]string{"NOETL_SERVER_MACHINE_ID": "2", "NOETL_SERVER_MACHINE_ID_OFFSET": "512"}, 514, "NOETL_SERVER_MACHINE_ID + NOETL_SERVER_MACHINE_ID_OFFSET", ""},
		{"offset zero", map[string]string{"NOETL_SERVER_MACHINE_ID": "2", "NOETL_SERVER_MACHINE_ID_OFFSET": "0"}, 2, "NOETL_SERVER_MACHINE_ID", ""},
		{"sum past 1023", map[string]string{"NOETL_SERVER_MACHINE_ID": "600", "NOETL_SERVER_MACHINE_ID_OFFSET": "512"}, 0, "", "NOETL_SERVER_MACHINE_ID_OFFSET"},
		{"offset without an id", map[string]string{"NOETL_SERVER_MACHINE_ID_OFFSET": "512", "HOSTNAME": "pod-0"}, 0, "", "NOETL_SERVER_MACHINE_ID_OFFSET"},
		{"offset not a number", map[string]string{"NOETL_SERVER_MACHINE_ID": "1", "NOETL_SERVER_MACHINE_ID_OFFSET": "x"}, 0, "", "NOETL_SERVER_MACHINE_ID_OFFSET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			err := config.LoadFrom(&c, tc.env)
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadFrom err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFrom: %v", err)
			}
			g, src, err := NewFromConfig(c)
			if err != nil {
				t.Fatalf("NewFromConfig: %v", err)
			}
			if g.MachineID() != tc.want || src != tc.wantSource {
				t.Errorf("machine id = (%d, %q), want (%d, %q)", g.MachineID(), src, tc.want, tc.wantSource)
			}
		})
	}
}

func TestNewGeneratorRejectsWideMachineID(t *testing.T) {
	t.Parallel()
	if _, err := NewGenerator(1024); err == nil {
		t.Error("NewGenerator(1024) succeeded")
	}
	g, err := NewGenerator(1023)
	if err != nil || g.MachineID() != 1023 {
		t.Fatalf("NewGenerator(1023) = %v, %v", g, err)
	}
	if _, _, err := NewFromConfig(Config{MachineID: config.OptionalUint{Value: 5000, Set: true}}); err == nil {
		t.Error("NewFromConfig(5000) succeeded")
	}
}

// clock is a settable fake wall clock.
type clock struct {
	mu    sync.Mutex
	ms    []int64 // values returned in order; the last one repeats
	calls int
}

func (c *clock) now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := min(c.calls, len(c.ms)-1)
	c.calls++
	return c.ms[i]
}

func newTestGenerator(t *testing.T, machine uint16, now func() int64) *Generator {
	t.Helper()
	g, err := NewGenerator(machine)
	if err != nil {
		t.Fatal(err)
	}
	g.now = now
	return g
}

func TestGeneratorComposesFromClock(t *testing.T) {
	t.Parallel()
	const T = int64(1780704000000)
	c := &clock{ms: []int64{T, T, T + 1, T + 5}}
	g := newTestGenerator(t, 465, c.now)
	want := []int64{
		Compose(T, 465, 0), Compose(T, 465, 1), Compose(T+1, 465, 0), Compose(T+5, 465, 0),
	}
	for i, w := range want {
		if got := g.MustNext(); got != w {
			t.Errorf("id %d = %d, want %d", i, got, w)
		}
	}
}

// TestGeneratorMonotonicWhenClockStepsBack: a backwards clock step reuses the last
// millisecond and keeps counting; no id ever goes backwards or repeats.
func TestGeneratorMonotonicWhenClockStepsBack(t *testing.T) {
	t.Parallel()
	const T = int64(1780704000000)
	c := &clock{ms: []int64{T, T, T - 5, T - 3_600_000, T, T + 1, T - 1}}
	g := newTestGenerator(t, 7, c.now)
	want := []int64{
		Compose(T, 7, 0),
		Compose(T, 7, 1),
		Compose(T, 7, 2), // clock stepped back 5 ms: pinned to T
		Compose(T, 7, 3), // an hour back: still T
		Compose(T, 7, 4), // clock back at T
		Compose(T+1, 7, 0),
		Compose(T+1, 7, 1), // back again
	}
	prev := int64(-1)
	for i, w := range want {
		got, err := g.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if got != w {
			t.Errorf("id %d = %d, want %d", i, got, w)
		}
		if got <= prev {
			t.Errorf("id %d = %d is not greater than the previous %d", i, got, prev)
		}
		prev = got
	}
}

// TestGeneratorWaitsWhenSequenceExhausted: 4096 ids in one millisecond use every sequence
// number; the next call waits for the clock to reach the next millisecond instead of
// wrapping to a repeated id.
func TestGeneratorWaitsWhenSequenceExhausted(t *testing.T) {
	t.Parallel()
	const T = int64(1780704000000)
	var calls atomic.Int64
	const waitPolls = 5 // the clock stays at T for a few polls of the wait loop
	now := func() int64 {
		n := calls.Add(1)
		if n <= 4096+1+waitPolls {
			return T
		}
		return T + 1
	}
	g := newTestGenerator(t, 1023, now)
	seen := make(map[int64]bool, 4097)
	prev := int64(-1)
	for i := range 4096 {
		id := g.MustNext()
		if id != Compose(T, 1023, uint16(i)) {
			t.Fatalf("id %d = %d, want %d", i, id, Compose(T, 1023, uint16(i)))
		}
		seen[id] = true
		prev = id
	}
	id := g.MustNext() // sequence exhausted: must wait for T+1
	if seen[id] {
		t.Fatalf("id %d repeats after the sequence wrapped", id)
	}
	if id <= prev {
		t.Fatalf("id %d is not greater than %d", id, prev)
	}
	if want := Compose(T+1, 1023, 0); id != want {
		t.Errorf("first id after exhaustion = %d, want %d (next ms, seq 0)", id, want)
	}
	if n := calls.Load(); n < 4096+1+waitPolls+1 {
		t.Errorf("clock read %d times; the generator did not wait for the next millisecond", n)
	}
	if id2 := g.MustNext(); id2 != Compose(T+1, 1023, 1) {
		t.Errorf("next id = %d, want %d", id2, Compose(T+1, 1023, 1))
	}
}

// TestGeneratorExhaustionAfterClockRollback: after a big backwards step, the pinned
// millisecond's sequence runs out and the generator waits until the real clock passes it.
func TestGeneratorExhaustionAfterClockRollback(t *testing.T) {
	t.Parallel()
	const T = int64(1780704000000)
	var calls atomic.Int64
	now := func() int64 {
		switch n := calls.Add(1); {
		case n == 1:
			return T
		case n <= 4096+10:
			return T - 1000 // stepped back a second
		default:
			return T + 2
		}
	}
	g := newTestGenerator(t, 3, now)
	prev := int64(-1)
	seen := map[int64]bool{}
	for i := range 4100 {
		id := g.MustNext()
		if id <= prev || seen[id] {
			t.Fatalf("id %d = %d not unique and increasing (prev %d)", i, id, prev)
		}
		seen[id] = true
		prev = id
	}
	if ms, _, _ := Parts(prev); ms != T+2 {
		t.Errorf("last id's ms = %d, want %d", ms, T+2)
	}
}

// TestGeneratorRealClockBurst: with the real clock, a burst far above 4096 ids per ms stays
// unique and strictly increasing.
func TestGeneratorRealClockBurst(t *testing.T) {
	t.Parallel()
	g, err := NewGenerator(9)
	if err != nil {
		t.Fatal(err)
	}
	prev := int64(-1)
	for i := range 20000 {
		id := g.MustNext()
		if id <= prev {
			t.Fatalf("id %d = %d not greater than %d", i, id, prev)
		}
		if _, m, _ := Parts(id); m != 9 {
			t.Fatalf("id %d has machine %d", id, m)
		}
		prev = id
	}
	ms, _, _ := Parts(prev)
	if d := time.Now().UnixMilli() - ms; d < 0 || d > 60_000 {
		t.Errorf("last id's timestamp is %d ms away from now", d)
	}
}

func TestGeneratorClockBeforeEpoch(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, 1, func() int64 { return EpochMS - 1 })
	if _, err := g.Next(); !errors.Is(err, ErrClockBeforeEpoch) {
		t.Errorf("Next before epoch: err = %v, want ErrClockBeforeEpoch", err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustNext before epoch did not panic")
		}
	}()
	g.MustNext()
}

func TestGeneratorConcurrent(t *testing.T) {
	t.Parallel()
	g, err := NewGenerator(77)
	if err != nil {
		t.Fatal(err)
	}
	const workers, per = 32, 2000
	out := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]int64, per)
			for i := range ids {
				ids[i] = g.MustNext()
			}
			out[w] = ids
		}()
	}
	wg.Wait()
	seen := make(map[int64]bool, workers*per)
	for w, ids := range out {
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate id %d", id)
			}
			seen[id] = true
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("worker %d: id %d not greater than its previous %d", w, id, ids[i-1])
			}
		}
	}
	if len(seen) != workers*per {
		t.Errorf("%d unique ids, want %d", len(seen), workers*per)
	}
}
