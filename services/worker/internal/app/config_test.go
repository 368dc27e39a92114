package app

import "strings"
import "testing"
import "time"

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != DefaultPort || cfg.MaxConcurrent != 4 || cfg.HeartbeatInterval.D() != 15*time.Second ||
		cfg.PoolSegment != "shared" || cfg.ConsumerName() != "noetl_worker_shared" || cfg.NATSConfig().ServerURL() != DefaultNATSURL ||
		cfg.Commands.Prefix != "noetl" || cfg.ServerURL != "http://localhost:8082" {
		t.Fatalf("defaults: %+v", cfg)
	}
	a, b := cfg.ID(), cfg.ID()
	if a == b || !strings.HasPrefix(a, "noetl-worker-") {
		t.Fatalf("generated ids %q and %q must differ", a, b)
	}
	if cfg.Token().IsSet() {
		t.Fatal("no token configured, yet one is sent")
	}
}

func TestConfigTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"the worker token wins", map[string]string{"NOETL_INTERNAL_API_TOKEN": "internal", "NOETL_API_TOKEN": "api", "NOETL_WORKER_TOKEN": "worker"}, "worker"},
		{"one shared token: the api token", map[string]string{"NOETL_API_TOKEN": "api"}, "api"},
		{"the public token before the internal one", map[string]string{"NOETL_INTERNAL_API_TOKEN": "internal", "NOETL_API_TOKEN": "api"}, "api"},
		{"the internal token last", map[string]string{"NOETL_INTERNAL_API_TOKEN": "internal"}, "internal"},
		{"an empty worker token counts as unset", map[string]string{"NOETL_WORKER_TOKEN": "", "NOETL_API_TOKEN": "api"}, "api"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Token().Reveal(); got != tc.want {
				t.Fatalf("sends %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigFailFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WORKER_MAX_CONCURRENT": "0"}, "WORKER_MAX_CONCURRENT"},
		{map[string]string{"WORKER_MAX_CONCURRENT": "lots"}, "WORKER_MAX_CONCURRENT"},
		{map[string]string{"WORKER_HEARTBEAT_INTERVAL": "soon"}, "WORKER_HEARTBEAT_INTERVAL"},
		{map[string]string{"WORKER_HEARTBEAT_INTERVAL": "100ms"}, "WORKER_HEARTBEAT_INTERVAL"},
		{map[string]string{"WORKER_POOL_SEGMENT": "private"}, "WORKER_POOL_SEGMENT"},
		{map[string]string{"NOETL_SERVER_URL": "localhost:8082"}, "NOETL_SERVER_URL"},
		{map[string]string{"NATS_CONSUMER": "a.b"}, "NATS_CONSUMER"},
		{map[string]string{"NATS_URL": "nats://"}, "NATS_URL"},
		{map[string]string{"NOETL_NATS_SUBJECT_PREFIX": "a.>"}, "NOETL_NATS_SUBJECT_PREFIX"},
		{map[string]string{"NOETL_SEALED_CREDENTIALS": "maybe"}, "NOETL_SEALED_CREDENTIALS"},
		{map[string]string{"NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES": "10"}, "NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES"},
		{map[string]string{"NOETL_SNOWFLAKE_NODE_ID": "2048"}, "NOETL_SNOWFLAKE_NODE_ID"},
		{map[string]string{"NOETL_PORT": "tcp://10.0.0.1:8086"}, "NOETL_PORT"},
		{map[string]string{"PYTHON_PATH": " "}, "PYTHON_PATH"},
	}
	for _, tc := range tests {
		_, err := LoadConfig(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %s", tc.env, err, tc.want)
		}
	}
	if cfg, err := LoadConfig(map[string]string{"WORKER_HEARTBEAT_INTERVAL": "3"}); err != nil || cfg.HeartbeatInterval.D() != 3*time.Second {
		t.Errorf("a number of seconds: %v %v", cfg.HeartbeatInterval.D(), err)
	}
}

// Seconds that overflow a duration, inf and nan are refused as such: converted, they
// wrapped around to a negative interval reported as "must be at least 1s", though the
// value given was huge.
func TestConfigDurationOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value string }{
		{"WORKER_HEARTBEAT_INTERVAL", "1e300"},
		{"WORKER_HEARTBEAT_INTERVAL", "inf"},
		{"WORKER_HEARTBEAT_INTERVAL", "NaN"},
		{"WORKER_HTTP_TIMEOUT", "-Inf"},
		{"WORKER_HTTP_TIMEOUT", "9223372037"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(map[string]string{tc.name: tc.value})
			want := tc.name + `: "` + tc.value + `" is not a finite number of seconds`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want one containing %s", err, want)
			}
		})
	}
	if cfg, err := LoadConfig(map[string]string{"WORKER_HTTP_TIMEOUT": "86400"}); err != nil || cfg.RequestTimeout.D() != 24*time.Hour {
		t.Fatalf("a day in seconds: %v %v", cfg.RequestTimeout.D(), err)
	}
}
