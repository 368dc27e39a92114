package natsx

import "context"
import "io"
import "log/slog"
import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/nats-io/nats.go"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

func TestServerURLPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"neither", map[string]string{}, ""},
		{"NATS_URL only", map[string]string{"NATS_URL": "nats://a:4222"}, "nats://a:4222"},
		{"NOETL_NATS_URL only", map[string]string{"NOETL_NATS_URL": "nats://b:4222"}, "nats://b:4222"},
		{"NATS_URL wins", map[string]string{"NATS_URL": "nats://a:4222", "NOETL_NATS_URL": "nats://b:4222"}, "nats://a:4222"},
		{"empty NATS_URL falls back", map[string]string{"NATS_URL": "", "NOETL_NATS_URL": "nats://b:4222"}, "nats://b:4222"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			if err := config.LoadFrom(&c, tc.env); err != nil {
				t.Fatalf("LoadFrom: %v", err)
			}
			if got := c.ServerURL(); got != tc.want {
				t.Errorf("ServerURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	const password = "hunter2-PASSWORD"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"unset is degraded mode, not an error", Config{}, ""},
		{"plain", Config{URL: "nats://127.0.0.1:4222"}, ""},
		{"tls scheme", Config{URL: "tls://nats.example:4222"}, ""},
		{"with credentials", Config{URL: "nats://user:" + password + "@nats:4222"}, ""},
		{"cluster list", Config{URL: "nats://a:4222,nats://b:4222"}, ""},
		{"cluster list with spaces", Config{URL: "nats://a:4222, nats://b:4222"}, ""},
		{"no host", Config{URL: "nats://"}, "NATS_URL"},
		{"not a URL", Config{URL: "::::"}, "NATS_URL"},
		{"bad URL with password", Config{URL: "nats://user:" + password + "@[bad:4222"}, "NATS_URL"},
		{"bad alias names the alias", Config{AliasURL: "nats://"}, "NOETL_NATS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not name %s", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error echoes the password: %v", err)
			}
		})
	}
}

func TestValidateThroughLoad(t *testing.T) {
	t.Parallel()
	const password = "s3cret-in-url"
	var c Config
	err := config.LoadFrom(&c, map[string]string{"NATS_URL": "nats://u:" + password + "@%zz:4222", "NATS_PASSWORD": "other-secret"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, s := range []string{password, "other-secret"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks %q", err, s)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnectWhileServerDown: Connect returns at once even when the server is down, and
// the connection comes up once the server does.
func TestConnectWhileServerDown(t *testing.T) {
	t.Parallel()
	srv := testkit.StartNATS(t)
	url := srv.URL()
	srv.Stop()

	logs := &testkit.LogBuffer{}
	start := time.Now()
	nc, err := Connect(Config{URL: url}, "natsx-test", slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("Connect to a stopped server: %v", err)
	}
	t.Cleanup(nc.Close)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Connect blocked for %v", d)
	}
	if nc.IsConnected() {
		t.Fatal("connected to a stopped server")
	}
	time.Sleep(700 * time.Millisecond) // several retry rounds fail; the connection must not give up
	if nc.IsClosed() {
		t.Fatal("connection closed while the server was down")
	}

	srv.Restart()
	waitFor(t, "the connection to come up", 15*time.Second, nc.IsConnected)
	if err := nc.Publish("natsx.test", []byte("x")); err != nil {
		t.Errorf("publish after connect: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Errorf("flush after connect: %v", err)
	}
	waitFor(t, "the connect log line", 5*time.Second, func() bool { return strings.Contains(logs.String(), "nats connected") })
}

// TestReconnectAfterOutage: a connection that was up survives the server going away.
func TestReconnectAfterOutage(t *testing.T) {
	t.Parallel()
	srv := testkit.StartNATS(t)
	nc, err := Connect(Config{URL: srv.URL()}, "natsx-test", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	waitFor(t, "connect", 10*time.Second, nc.IsConnected)
	srv.Stop()
	waitFor(t, "disconnect", 10*time.Second, func() bool { return !nc.IsConnected() })
	srv.Restart()
	waitFor(t, "reconnect", 15*time.Second, nc.IsConnected)
	if nc.Status() != nats.CONNECTED {
		t.Errorf("status = %v", nc.Status())
	}
}

func TestConnectWithCredentials(t *testing.T) {
	t.Parallel()
	// The shared server has no auth: credentials are sent and ignored, proving the option
	// path (NATS_USER/NATS_PASSWORD) does not break a connect.
	nc, err := Connect(Config{URL: testkit.NATSURL(), User: "u", Password: "p"}, "natsx-test", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, "connect to "+testkit.NATSURL(), 10*time.Second, nc.IsConnected)
	if got := nc.Opts.Name; got != "natsx-test" {
		t.Errorf("connection name = %q", got)
	}
}

func TestCommandSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		path    string
		subject string
		filter  string
		err     string
	}{
		{"defaults are upstream's subjects", map[string]string{}, "examples/hello", "noetl.commands.shared.42", "noetl.commands.shared.>", ""},
		{"system playbooks go to the system pool", map[string]string{}, "system/cleanup", "noetl.commands.system.42", "noetl.commands.shared.>", ""},
		{"a prefix isolates a deployment", map[string]string{"NOETL_NATS_SUBJECT_PREFIX": "e2e_ab12.x"}, "a/b", "e2e_ab12.x.commands.shared.42", "e2e_ab12.x.commands.shared.>", ""},
		{"wildcards are refused", map[string]string{"NOETL_NATS_SUBJECT_PREFIX": "noetl.*"}, "", "", "", "NOETL_NATS_SUBJECT_PREFIX"},
		{"an empty token is refused", map[string]string{"NOETL_NATS_SUBJECT_PREFIX": "a..b"}, "", "", "", "NOETL_NATS_SUBJECT_PREFIX"},
		{"a dotted stream name is refused", map[string]string{"NOETL_NATS_STREAM": "A.B"}, "", "", "", "NOETL_NATS_STREAM"},
		{"a negative max age is refused", map[string]string{"NOETL_NATS_STREAM_MAX_AGE": "-1h"}, "", "", "", "NOETL_NATS_STREAM_MAX_AGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c Commands
			err := config.LoadFrom(&c, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Subject(PoolFor(tc.path), 42); got != tc.subject {
				t.Errorf("Subject = %q, want %q", got, tc.subject)
			}
			if got := c.PoolFilter(PoolShared); got != tc.filter {
				t.Errorf("PoolFilter = %q, want %q", got, tc.filter)
			}
			if got := c.StreamConfig().Subjects; len(got) != 2 || got[1] != c.Base()+".>" {
				t.Errorf("stream subjects = %v", got)
			}
		})
	}
}

// CreateStream creates the stream, answers the existing one when it covers the prefix
// already, and refuses a stream of its name that another prefix uses, naming it.
func TestCreateStream(t *testing.T) {
	t.Parallel()
	_, js := testkit.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ns := testkit.NewCommandNamespace(t, testkit.NATSURL())
	theirs := Commands{Prefix: ns.Prefix, Stream: ns.Stream, MaxAge: time.Hour}
	for _, round := range []string{"created", "already there"} {
		name, err := theirs.CreateStream(ctx, js)
		if err != nil || name != ns.Stream {
			t.Fatalf("%s: CreateStream = %q, %v; want %q", round, name, err, ns.Stream)
		}
	}
	other := testkit.NewCommandNamespace(t, testkit.NATSURL())
	mine := Commands{Prefix: other.Prefix, Stream: ns.Stream, MaxAge: time.Hour}
	name, err := mine.CreateStream(ctx, js)
	if err == nil || name != "" {
		t.Fatalf("CreateStream on another prefix's stream = %q, %v; want an error", name, err)
	}
	for _, want := range []string{"NOETL_NATS_STREAM", ns.Stream, theirs.Base(), mine.Base()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	s, err := js.Stream(ctx, ns.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Subjects; !reflect.DeepEqual(got, theirs.Subjects()) {
		t.Errorf("the stream now covers %v, want %v", got, theirs.Subjects())
	}
}

// Any retention NOETL_NATS_STREAM_MAX_AGE allows makes a stream JetStream accepts: its
// duplicate window (two minutes) is cut to a shorter retention, which JetStream requires.
func TestStreamWithAShortRetention(t *testing.T) {
	t.Parallel()
	_, js := testkit.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	for _, c := range []struct {
		maxAge, wantDup time.Duration
	}{
		{30 * time.Second, 30 * time.Second},
		{2 * time.Minute, 2 * time.Minute},
		{time.Hour, 2 * time.Minute},
		{0, 2 * time.Minute}, // no retention limit
	} {
		t.Run(c.maxAge.String(), func(t *testing.T) {
			ns := testkit.NewCommandNamespace(t, testkit.NATSURL())
			cmds := Commands{Prefix: ns.Prefix, Stream: ns.Stream, MaxAge: c.maxAge}
			if _, err := cmds.CreateStream(ctx, js); err != nil {
				t.Fatalf("CreateStream with max age %s: %v", c.maxAge, err)
			}
			s, err := js.Stream(ctx, ns.Stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.CachedInfo().Config.Duplicates; got != c.wantDup {
				t.Errorf("duplicate window %s, want %s", got, c.wantDup)
			}
		})
	}
}
