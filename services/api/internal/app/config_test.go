package app

import "strings"
import "testing"
import "time"

// The fan-out cap reaches the engine from NOETL_MAX_LOOP_ITERATIONS; a value that is not
// a positive integer stops the binary with a message naming the variable.
func TestMaxLoopIterations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value string
		want        int64
		wantErr     string
	}{
		{"default", "", 100000, ""},
		{"set", "250", 250, ""},
		{"zero", "0", 0, "NOETL_MAX_LOOP_ITERATIONS: must be >= 1"},
		{"negative", "-5", 0, "NOETL_MAX_LOOP_ITERATIONS: must be >= 1"},
		{"not a number", "lots", 0, "NOETL_MAX_LOOP_ITERATIONS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, ok := loadWith(t, "NOETL_MAX_LOOP_ITERATIONS", c.value, c.wantErr)
			if ok && cfg.MaxLoopIterations != c.want {
				t.Fatalf("MaxLoopIterations = %d, want %d", cfg.MaxLoopIterations, c.want)
			}
		})
	}
}

// The reconciliation sweep's period: 30 s by default, 0 turns it off, and anything under
// a second (a sweep that would hammer the database) or negative stops the binary.
func TestReconcileInterval(t *testing.T) {
	t.Parallel()
	const msg = "NOETL_RECONCILE_INTERVAL: must be 0 (off) or at least 1s"
	cases := []struct {
		name, value string
		want        time.Duration
		wantErr     string
	}{
		{"default", "", 30 * time.Second, ""},
		{"off", "0", 0, ""},
		{"set", "2m", 2 * time.Minute, ""},
		{"under a second", "500ms", 0, msg},
		{"negative", "-1s", 0, msg},
		{"not a duration", "often", 0, "NOETL_RECONCILE_INTERVAL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, ok := loadWith(t, "NOETL_RECONCILE_INTERVAL", c.value, c.wantErr)
			if ok && cfg.ReconcileInterval != c.want {
				t.Fatalf("ReconcileInterval = %v, want %v", cfg.ReconcileInterval, c.want)
			}
		})
	}
}

// The claim-lease bounds: 0 turns one off, and a negative one stops the binary with a
// message naming the variable.
func TestLeaseBounds(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		name string
		def  int
		get  func(Config) int
	}{
		{"NOETL_COMMAND_LEASE_SECONDS", 60, func(c Config) int { return c.CommandLeaseSeconds }},
		{"NOETL_EAGER_ACK_SECONDS", 30, func(c Config) int { return c.EagerAckSeconds }},
	} {
		for _, c := range []struct {
			name, value string
			want        int
			wantErr     string
		}{
			{"default", "", v.def, ""},
			{"off", "0", 0, ""},
			{"set", "120", 120, ""},
			{"negative", "-1", 0, v.name + ": must be 0 (off) or a number of seconds"},
			{"not a number", "soon", 0, v.name},
		} {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				cfg, ok := loadWith(t, v.name, c.value, c.wantErr)
				if ok && v.get(cfg) != c.want {
					t.Fatalf("%s = %d, want %d", v.name, v.get(cfg), c.want)
				}
			})
		}
	}
}

// loadWith loads and validates the configuration with name=value ("" leaves it unset)
// and checks the error against wantErr; ok is true when the configuration loaded.
func loadWith(t *testing.T, name, value, wantErr string) (cfg Config, ok bool) {
	t.Helper()
	env := map[string]string{}
	if value != "" {
		env[name] = value
	}
	cfg, err := LoadConfig(env)
	if err == nil {
		err = cfg.Validate()
	}
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}
