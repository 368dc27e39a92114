package config

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

// load parses env into a Common pre-set with a port, as each binary does.
func load(t *testing.T, env map[string]string) (Common, error) {
	t.Helper()
	c := Common{Port: 8083}
	err := LoadFrom(&c, env)
	return c, err
}

func TestLoadFromDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{})
	if err != nil {
		t.Fatalf("LoadFrom(empty): %v", err)
	}
	if c.Host != "0.0.0.0" || c.Port != 8083 || c.Debug || c.DisableMetrics {
		t.Errorf("defaults: host=%q port=%d debug=%v disable_metrics=%v", c.Host, c.Port, c.Debug, c.DisableMetrics)
	}
	if c.ServerName != "noetl-control-plane" {
		t.Errorf("ServerName = %q", c.ServerName)
	}
	if c.MaxBodyBytes != 2<<20 {
		t.Errorf("MaxBodyBytes = %d, want 2 MiB", c.MaxBodyBytes)
	}
	if c.ShutdownGrace != 30*time.Second {
		t.Errorf("ShutdownGrace = %v", c.ShutdownGrace)
	}
	if c.InternalToken.IsSet() {
		t.Errorf("InternalToken set by default")
	}
	if got := c.Addr(); got != "0.0.0.0:8083" {
		t.Errorf("Addr = %q", got)
	}
}

func TestLoadFromValues(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{
		"NOETL_HOST":               "127.0.0.1",
		"NOETL_PORT":               " 9000 ",
		"NOETL_DEBUG":              "yes",
		"NOETL_DISABLE_METRICS":    "1",
		"NOETL_MAX_BODY_BYTES":     "1024",
		"NOETL_SHUTDOWN_TIMEOUT":   "5s",
		"NOETL_INTERNAL_API_TOKEN": "tok",
		"NOETL_WORKERS":            "4",
	})
	if err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	if c.Host != "127.0.0.1" || c.Port != 9000 || !bool(c.Debug) || !bool(c.DisableMetrics) ||
		c.MaxBodyBytes != 1024 || c.ShutdownGrace != 5*time.Second || c.InternalToken.Reveal() != "tok" || c.Workers != 4 {
		t.Errorf("unexpected config: %+v", c)
	}
	if c.Addr() != "127.0.0.1:9000" {
		t.Errorf("Addr = %q", c.Addr())
	}
}

// TestLoadFromBadValues: a value that does not parse stops startup with a message naming
// the variable (docs/decisions.md, "Configuration and startup"); the value itself is quoted so the operator sees it.
func TestLoadFromBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"port not a number", map[string]string{"NOETL_PORT": "abc"}, []string{"NOETL_PORT", `"abc"`, "port number"}},
		{"port zero", map[string]string{"NOETL_PORT": "0"}, []string{"NOETL_PORT", "port number"}},
		{"port too large", map[string]string{"NOETL_PORT": "70000"}, []string{"NOETL_PORT", "70000"}},
		{"port negative", map[string]string{"NOETL_PORT": "-1"}, []string{"NOETL_PORT"}},
		{"kubernetes service link", map[string]string{"NOETL_PORT": "tcp://10.0.0.1:8082"},
			[]string{"NOETL_PORT", "tcp://10.0.0.1:8082", "Kubernetes service link", "enableServiceLinks: false"}},
		{"debug maybe", map[string]string{"NOETL_DEBUG": "maybe"}, []string{"NOETL_DEBUG", `"maybe"`, "boolean"}},
		{"disable metrics bad", map[string]string{"NOETL_DISABLE_METRICS": "2"}, []string{"NOETL_DISABLE_METRICS", `"2"`}},
		{"max body bytes", map[string]string{"NOETL_MAX_BODY_BYTES": "x"}, []string{"NOETL_MAX_BODY_BYTES", "invalid value"}},
		{"workers", map[string]string{"NOETL_WORKERS": "many"}, []string{"NOETL_WORKERS"}},
		{"shutdown timeout", map[string]string{"NOETL_SHUTDOWN_TIMEOUT": "soon"}, []string{"NOETL_SHUTDOWN_TIMEOUT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tc.env)
			if err == nil {
				t.Fatalf("LoadFrom(%v) succeeded, want an error", tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// The Go field name is an implementation detail; the operator needs the variable.
			if strings.Contains(err.Error(), "parse error on field") {
				t.Errorf("error %q leaks caarlos0/env's field wording", err)
			}
		})
	}
}

// TestLoadFromSeveralBadValues: every broken variable is reported at once.
func TestLoadFromSeveralBadValues(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{"NOETL_PORT": "abc", "NOETL_DEBUG": "maybe"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{"NOETL_PORT", "NOETL_DEBUG"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
}

// nested mirrors a service config that embeds Common and a section whose Go field names
// repeat Common's (pg.Config has Port and Password too).
type nested struct {
	Common
	DB struct {
		Port     uint16 `env:"POSTGRES_PORT" envDefault:"5432"`
		Password Secret `env:"POSTGRES_PASSWORD"`
	}
	Alt struct {
		Workers int `env:"NOETL_EVENT_WRITERS"` // a real variable, under the same Go field name as NOETL_WORKERS
	}
}

func TestLoadFromNamesTheRightVariableWhenFieldNamesRepeat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		want     string
		notWants []string
	}{
		{"NOETL_PORT bad", map[string]string{"NOETL_PORT": "abc"}, "NOETL_PORT", []string{"POSTGRES_PORT"}},
		{"POSTGRES_PORT bad", map[string]string{"POSTGRES_PORT": "abc"}, "POSTGRES_PORT", []string{"NOETL_PORT"}},
		// Same Go field name and type: the variable that is actually set is the one at fault.
		{"NOETL_WORKERS bad", map[string]string{"NOETL_WORKERS": "x"}, "NOETL_WORKERS", []string{"NOETL_EVENT_WRITERS"}},
		{"NOETL_EVENT_WRITERS bad", map[string]string{"NOETL_EVENT_WRITERS": "x"}, "NOETL_EVENT_WRITERS", []string{"NOETL_WORKERS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := nested{Common: Common{Port: 8083}}
			err := LoadFrom(&c, tc.env)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			for _, nw := range tc.notWants {
				if strings.Contains(err.Error(), nw) {
					t.Errorf("error %q names %s, which is not at fault", err, nw)
				}
			}
		})
	}
}

func TestLoadFromRunsValidate(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{"NOETL_TLS_CERT": "/tmp/cert.pem"})
	if err == nil || !strings.Contains(err.Error(), "NOETL_TLS_KEY") {
		t.Fatalf("LoadFrom with only a cert: err = %v, want the TLS pairing error", err)
	}
}

// TestLoadConfig: the generic loader keeps what defaults preset unless a variable
// overrides it, validates, and returns the zero config with the error.
func TestLoadConfig(t *testing.T) {
	t.Parallel()
	type svc struct {
		Common
		Region string `env:"NOETL_SERVER_REGION"`
	}
	defaults := svc{Common: Common{Port: 8085}, Region: "preset"}
	tests := []struct {
		name       string
		env        map[string]string
		wantPort   Port
		wantRegion string
		wantErr    string
	}{
		{"defaults", map[string]string{}, 8085, "preset", ""},
		{"overridden", map[string]string{"NOETL_PORT": "9000", "NOETL_SERVER_REGION": "eu"}, 9000, "eu", ""},
		{"bad value", map[string]string{"NOETL_PORT": "x"}, 0, "", "NOETL_PORT"},
		{"validated", map[string]string{"NOETL_TLS_CERT": "/tmp/c.pem"}, 0, "", "NOETL_TLS_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadConfig(tc.env, defaults)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got.Port != 0 {
					t.Fatalf("= %+v, %v; want the zero config and an error naming %s", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Port != tc.wantPort || got.Region != tc.wantRegion {
				t.Fatalf("= port %d region %q, %v; want %d %q", got.Port, got.Region, err, tc.wantPort, tc.wantRegion)
			}
		})
	}
	if defaults.Port != 8085 || defaults.Region != "preset" {
		t.Errorf("LoadConfig changed its defaults argument: %+v", defaults)
	}
}

func TestLoadReadsProcessEnvironment(t *testing.T) {
	// t.Setenv forbids t.Parallel.
	t.Setenv("NOETL_PORT", "tcp://10.0.0.1:8082")
	c := Common{Port: 8082}
	err := LoadFrom(&c, nil)
	if err == nil || !strings.Contains(err.Error(), "NOETL_PORT") || !strings.Contains(err.Error(), "Kubernetes") {
		t.Fatalf("Load: err = %v", err)
	}
	t.Setenv("NOETL_PORT", "8090")
	c = Common{Port: 8082}
	if err := LoadFrom(&c, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Port != 8090 {
		t.Errorf("Port = %d, want 8090", c.Port)
	}
}

func TestBoolSpellings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"true", true, false}, {"TRUE", true, false}, {"True", true, false}, {"1", true, false},
		{"yes", true, false}, {"YES", true, false}, {"y", true, false}, {"on", true, false},
		{"t", true, false}, {" true ", true, false},
		{"false", false, false}, {"FALSE", false, false}, {"0", false, false}, {"no", false, false},
		{"n", false, false}, {"off", false, false}, {"f", false, false}, {"", false, false},
		{"maybe", false, true}, {"2", false, true}, {"enabled", false, true}, {"truee", false, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			t.Parallel()
			b := Bool(!tc.want) // make sure the value is overwritten
			err := b.UnmarshalText([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("UnmarshalText(%q) = %v, want an error", tc.in, b)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
					t.Errorf("error %q does not quote the value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalText(%q): %v", tc.in, err)
			}
			if bool(b) != tc.want {
				t.Errorf("UnmarshalText(%q) = %v, want %v", tc.in, b, tc.want)
			}
		})
	}
}

func TestPortUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Port
		wantErr string
	}{
		{"8082", 8082, ""},
		{"1", 1, ""},
		{"65535", 65535, ""},
		{" 80 ", 80, ""},
		{"0", 0, "not a port number"},
		{"65536", 0, "not a port number"},
		{"", 0, "not a port number"},
		{"8082a", 0, "not a port number"},
		{"tcp://10.0.0.1:8082", 0, "Kubernetes service link"},
		{"http://x:1", 0, "Kubernetes service link"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var p Port
			err := p.UnmarshalText([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("UnmarshalText(%q) err = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("UnmarshalText(%q) = %d, %v; want %d", tc.in, p, err, tc.want)
			}
		})
	}
}

func TestOptionalUint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    OptionalUint
		wantErr bool
	}{
		{"0", OptionalUint{Value: 0, Set: true}, false},
		{"1023", OptionalUint{Value: 1023, Set: true}, false},
		{" 7 ", OptionalUint{Value: 7, Set: true}, false},
		{"", OptionalUint{}, false},
		{"-1", OptionalUint{}, true},
		{"abc", OptionalUint{}, true},
		{"1.5", OptionalUint{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			o := OptionalUint{Value: 99, Set: true}
			err := o.UnmarshalText([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("UnmarshalText(%q) = %+v, want an error", tc.in, o)
				}
				return
			}
			if err != nil || o != tc.want {
				t.Fatalf("UnmarshalText(%q) = %+v, %v; want %+v", tc.in, o, err, tc.want)
			}
		})
	}
}

const secretValue = "s3cr3t-VALUE-42"

// TestSecretNeverPrints: the value must not appear however the secret (or a struct that
// holds it) is formatted: a secret value never appears in a log line or an error body
// (docs/decisions.md, "HTTP conventions").
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := Secret(secretValue)
	c := Common{Port: 8083, InternalToken: s}
	ptr := &c
	type holder struct {
		Name  string
		Token Secret
		Ptr   *Secret
	}
	h := holder{Name: "x", Token: s, Ptr: &s}
	cases := map[string]string{
		"%v":              fmt.Sprintf("%v", s),
		"%+v":             fmt.Sprintf("%+v", s),
		"%#v":             fmt.Sprintf("%#v", s),
		"%s":              fmt.Sprintf("%s", s),
		"%q":              fmt.Sprintf("%q", s),
		"%x":              fmt.Sprintf("%x", s),
		"Sprint":          fmt.Sprint(s),
		"Sprintln":        fmt.Sprintln(s),
		"String":          s.String(),
		"GoString":        s.GoString(),
		"pointer %v":      fmt.Sprintf("%v", &s),
		"pointer %s":      fmt.Sprintf("%s", &s),
		"struct %v":       fmt.Sprintf("%v", c),
		"struct %+v":      fmt.Sprintf("%+v", c),
		"struct %#v":      fmt.Sprintf("%#v", c),
		"struct ptr %+v":  fmt.Sprintf("%+v", ptr),
		"holder %+v":      fmt.Sprintf("%+v", h),
		"holder %#v":      fmt.Sprintf("%#v", h),
		"error %v":        fmt.Errorf("connect with %v: %w", s, errors.New("boom")).Error(),
		"error %s nested": fmt.Errorf("config: %+v", c).Error(),
	}
	for name, out := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if strings.Contains(out, secretValue) {
				t.Errorf("%s printed the secret: %q", name, out)
			}
		})
	}
	if s.Reveal() != secretValue {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if got := fmt.Sprintf("%v", s); got != "[REDACTED]" {
		t.Errorf("%%v = %q, want [REDACTED]", got)
	}
}

func TestSecretEmptyAndIsSet(t *testing.T) {
	t.Parallel()
	if got := fmt.Sprintf("%v", Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want empty (so 'unset' is visible)", got)
	}
	for in, want := range map[string]bool{"": false, "   ": false, "\t\n": false, "x": true, " x ": true} {
		if got := Secret(in).IsSet(); got != want {
			t.Errorf("Secret(%q).IsSet() = %v, want %v", in, got, want)
		}
	}
	var s Secret
	if err := s.UnmarshalText([]byte(secretValue)); err != nil || s.Reveal() != secretValue {
		t.Errorf("UnmarshalText: %q, %v", s.Reveal(), err)
	}
}

// TestSecretNotInLoadErrors: a failing load reports other variables without echoing the
// secret that was loaded alongside them.
func TestSecretNotInLoadErrors(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{
		"NOETL_INTERNAL_API_TOKEN": secretValue,
		"NOETL_DEBUG":              "maybe",
		"NOETL_TLS_CERT":           "/c.pem",
	})
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), secretValue) {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestServerTLSValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tls  ServerTLS
		want []string // empty: valid
	}{
		{"plain", ServerTLS{}, nil},
		{"server TLS", ServerTLS{CertFile: "c", KeyFile: "k"}, nil},
		{"mTLS", ServerTLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, nil},
		{"cert only", ServerTLS{CertFile: "c"}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"key only", ServerTLS{KeyFile: "k"}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"cert only with CA", ServerTLS{CertFile: "c", ClientCAFile: "ca"}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"CA without cert", ServerTLS{ClientCAFile: "ca"}, []string{"NOETL_TLS_CLIENT_CA", "NOETL_TLS_CERT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.tls.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
	if (ServerTLS{}).Enabled() || !(ServerTLS{CertFile: "c", KeyFile: "k"}).Enabled() {
		t.Error("Enabled: wrong answer")
	}
}

func TestCommonValidate(t *testing.T) {
	t.Parallel()
	// Start from the loaded defaults so that fields added later keep a valid value.
	valid := func() Common {
		c := Common{Port: 8083}
		if err := LoadFrom(&c, map[string]string{}); err != nil {
			t.Fatalf("defaults do not validate: %v", err)
		}
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Common)
		want   []string
	}{
		{"valid", func(*Common) {}, nil},
		{"port unset", func(c *Common) { c.Port = 0 }, []string{"NOETL_PORT"}},
		{"internal cert without key", func(c *Common) { c.InternalTLS.CertFile = "c" },
			[]string{"NOETL_INTERNAL_TLS_CERT", "NOETL_INTERNAL_TLS_KEY"}},
		{"internal key without cert", func(c *Common) { c.InternalTLS.KeyFile = "k" },
			[]string{"NOETL_INTERNAL_TLS_CERT", "NOETL_INTERNAL_TLS_KEY"}},
		{"internal CA alone is fine", func(c *Common) { c.InternalTLS.CAFile = "ca" }, nil},
		{"body limit zero", func(c *Common) { c.MaxBodyBytes = 0 }, []string{"NOETL_MAX_BODY_BYTES"}},
		{"body limit negative", func(c *Common) { c.MaxBodyBytes = -1 }, []string{"NOETL_MAX_BODY_BYTES"}},
		{"workers negative", func(c *Common) { c.Workers = -2 }, []string{"NOETL_WORKERS"}},
		{"bad log level", func(c *Common) { c.LogLevel = "loud" }, []string{"NOETL_LOG_LEVEL", "loud"}},
		{"listener TLS half", func(c *Common) { c.TLS.KeyFile = "k" }, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"several at once", func(c *Common) { c.Port = 0; c.MaxBodyBytes = 0 }, []string{"NOETL_PORT", "NOETL_MAX_BODY_BYTES"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestCommonLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		logLevel string
		rustLog  string
		debug    bool
		want     string
	}{
		{"default info", "", "", false, "info"},
		{"debug flag", "", "", true, "debug"},
		{"NOETL_LOG_LEVEL wins over debug", "warn", "", true, "warn"},
		{"NOETL_LOG_LEVEL wins over RUST_LOG", "error", "debug", false, "error"},
		{"NOETL_LOG_LEVEL normalised case", "WARN", "", false, "warn"},
		{"NOETL_LOG_LEVEL warning alias", "warning", "", false, "warn"},
		{"NOETL_LOG_LEVEL trace is debug", "trace", "", false, "debug"},
		{"plain RUST_LOG", "", "warn", false, "warn"},
		{"RUST_LOG upper case", "", "ERROR", false, "error"},
		{"RUST_LOG trace is debug", "", "trace", false, "debug"},
		{"RUST_LOG padded", "", "  info  ", true, "info"},
		{"RUST_LOG directive list ignored", "", "info,noetl_control_plane=debug,tower_http=debug", false, "info"},
		{"RUST_LOG directive list ignored, debug flag", "", "info,tower_http=debug", true, "debug"},
		{"RUST_LOG junk ignored", "", "verbose", false, "info"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Common{LogLevel: tc.logLevel, RustLog: tc.rustLog, Debug: Bool(tc.debug)}
			if got := c.Level(); got != tc.want {
				t.Errorf("Level() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLevelIsOneOfTheCanonicalNames: whatever Level returns for a valid configuration is
// a name the logger understands (debug, info, warn, error), not an alias.
func TestLevelIsOneOfTheCanonicalNames(t *testing.T) {
	t.Parallel()
	canonical := map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
	for _, in := range []string{"trace", "TRACE", "debug", "Info", "WARN", "warning", "Error", " error "} {
		for _, viaRust := range []bool{false, true} {
			c := Common{}
			if viaRust {
				c.RustLog = in
			} else {
				c.LogLevel = in
			}
			if err := c.Validate(); err != nil && strings.Contains(err.Error(), "NOETL_LOG_LEVEL") {
				t.Errorf("level %q rejected: %v", in, err)
			}
			if got := c.Level(); !canonical[got] {
				t.Errorf("Level() for %q (RUST_LOG=%v) = %q, not a canonical level", in, viaRust, got)
			}
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"trace", "debug"}, {"debug", "debug"}, {"INFO", "info"}, {"warn", "warn"},
		{"Warning", "warn"}, {"error", "error"}, {" info ", "info"},
	}
	for _, tc := range tests {
		got, err := ParseLevel(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "fatal", "verbose", "info,x=debug"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) succeeded, want an error", bad)
		}
	}
}

// TestSecretNotInStructuredLogs: the services log with slog's JSON handler, which encodes
// values with encoding/json rather than fmt, so the redaction must hold there too.
func TestSecretNotInStructuredLogs(t *testing.T) {
	t.Parallel()
	s := Secret(secretValue)
	c := Common{Port: 8083, InternalToken: s}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("config", slog.Any("token", s), slog.Any("common", c), slog.Any("ptr", &c))
	}
	if strings.Contains(buf.String(), secretValue) {
		t.Errorf("log output contains the secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "[REDACTED]") {
		t.Errorf("log output does not show the redaction marker:\n%s", buf.String())
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if strings.Contains(string(b), secretValue) {
		t.Errorf("json.Marshal(Common) = %s, contains the secret", b)
	}
	b, _ = json.Marshal(Secret(""))
	if string(b) != `""` {
		t.Errorf("json.Marshal(empty secret) = %s, want \"\"", b)
	}
}

// TestSecretFromFile: a secret variable can name a file instead (<NAME>_FILE, as a CSI
// driver or a Secret volume mounts it); both at once, or a file that cannot be read,
// stop the load naming the variable and never the content.
func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := write("token", "from-file\n")
	apiToken := write("api", "api-from-file\r\n")
	type cfg struct {
		Common
		Tokens PublicTokens
	}
	cases := []struct {
		name               string
		env                map[string]string
		internal, api, err string
	}{
		{"file", map[string]string{"NOETL_INTERNAL_API_TOKEN_FILE": token}, "from-file", "", ""},
		{"nested struct", map[string]string{"NOETL_API_TOKEN_FILE": apiToken, "NOETL_INTERNAL_API_TOKEN": "env"}, "env", "api-from-file", ""},
		{"empty _FILE is unset", map[string]string{"NOETL_INTERNAL_API_TOKEN_FILE": "", "NOETL_INTERNAL_API_TOKEN": "env"}, "env", "", ""},
		{"both set", map[string]string{"NOETL_INTERNAL_API_TOKEN_FILE": token, "NOETL_INTERNAL_API_TOKEN": "env"}, "", "", "NOETL_INTERNAL_API_TOKEN and NOETL_INTERNAL_API_TOKEN_FILE are both set"},
		{"missing file", map[string]string{"NOETL_API_TOKEN_FILE": filepath.Join(dir, "nope")}, "", "", "NOETL_API_TOKEN_FILE: open " + filepath.Join(dir, "nope")},
		{"not a secret", map[string]string{"NOETL_HOST_FILE": token}, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cfg{Common: Common{Port: 8083}}
			err := LoadFrom(&c, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "from-file") || strings.Contains(err.Error(), "env\"") {
					t.Errorf("the error carries a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.InternalToken.Reveal() != tc.internal || c.Tokens.API.Reveal() != tc.api || c.Host != "0.0.0.0" {
				t.Errorf("internal %q api %q host %q, want %q %q 0.0.0.0", c.InternalToken.Reveal(), c.Tokens.API.Reveal(), c.Host, tc.internal, tc.api)
			}
		})
	}
	// A <NAME>_FILE that is a variable of its own (the wallet's NOETL_K8S_TOKEN_FILE) keeps
	// its meaning: the path is not read into <NAME>, and both may be set (the binary
	// decides which wins).
	type ownFile struct {
		Token     Secret `env:"NOETL_K8S_TOKEN"`
		TokenFile string `env:"NOETL_K8S_TOKEN_FILE"`
	}
	var o ownFile
	if err := LoadFrom(&o, map[string]string{"NOETL_K8S_TOKEN": "inline", "NOETL_K8S_TOKEN_FILE": token}); err != nil || o.Token.Reveal() != "inline" || o.TokenFile != token {
		t.Errorf("own _FILE variable: token %q file %q err %v", o.Token.Reveal(), o.TokenFile, err)
	}
	o = ownFile{}
	if err := LoadFrom(&o, map[string]string{"NOETL_K8S_TOKEN_FILE": token}); err != nil || o.Token.IsSet() {
		t.Errorf("own _FILE variable read into the secret: %q %v", o.Token.Reveal(), err)
	}
	// The caller's map is never written.
	env := map[string]string{"NOETL_INTERNAL_API_TOKEN_FILE": token}
	c := Common{Port: 8083}
	if err := LoadFrom(&c, env); err != nil || len(env) != 1 {
		t.Errorf("LoadFrom wrote the caller's environment: %v %v", env, err)
	}
}
