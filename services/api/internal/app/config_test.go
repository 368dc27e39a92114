package app

import (
	"strings"
	"testing"
)

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
			env := map[string]string{}
			if c.value != "" {
				env["NOETL_MAX_LOOP_ITERATIONS"] = c.value
			}
			cfg, err := LoadConfig(env)
			if err == nil {
				err = cfg.Validate()
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxLoopIterations != c.want {
				t.Fatalf("MaxLoopIterations = %d, want %d", cfg.MaxLoopIterations, c.want)
			}
		})
	}
}
