package deploy

import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// runDeps runs scripts/deps.sh (what `make run` and `make test` run first) with the given
// variables and stand-ins for every command it could install or start a server with, which
// only record that they were called. It returns the output, the recorded calls and the
// exit error.
func runDeps(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	stubs, calls := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"apt-get", "pg_ctlcluster", "psql", "start-stop-daemon", "go"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >>%q\n", name, calls)
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(testkit.RepoRoot(t), "scripts", "deps.sh")}, args...)...)
	cmd.Env = []string{"PATH=" + stubs + ":" + os.Getenv("PATH"), "NOETL_RUN_DIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	recorded, _ := os.ReadFile(calls)
	return string(out), string(recorded), err
}

// TestDepsUsesTheUsersServers: a database or NATS the user points at (DATABASE_URL,
// POSTGRES_HOST/POSTGRES_PORT, NATS_URL) is the one checked; deps.sh never installs or
// starts a local server in its stead (it used to check only 127.0.0.1:5432 and :4222), and
// says which variable names a server that does not answer, without its credentials.
func TestDepsUsesTheUsersServers(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // "the user's database": it answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answering := ln.Addr().(*net.TCPAddr).Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := closed.Addr().(*net.TCPAddr).Port
	closed.Close() // nothing listens there any more

	cases := []struct {
		name      string
		args      []string
		env       map[string]string
		fails     bool
		want      []string
		wantCalls string // a recorded call that must happen ("" none at all)
	}{
		{"DATABASE_URL answers", nil, map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://noetl:secretpw@127.0.0.1:%d/noetl?sslmode=disable", answering), "NATS_URL": testkit.NATSURL()},
			false, []string{"are up"}, ""},
		{"DATABASE_URL silent", nil, map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://noetl:secretpw@127.0.0.1:%d/noetl", silent), "NATS_URL": testkit.NATSURL()},
			true, []string{fmt.Sprintf("127.0.0.1:%d (from DATABASE_URL)", silent), "nothing is started"}, ""},
		{"POSTGRES_PORT silent", nil, map[string]string{"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": fmt.Sprint(silent)},
			true, []string{fmt.Sprintf("127.0.0.1:%d (from POSTGRES_HOST/POSTGRES_PORT)", silent)}, ""},
		{"key/value DSN answers", nil, map[string]string{"DATABASE_URL": fmt.Sprintf("host=127.0.0.1 port=%d password=secretpw", answering)},
			false, []string{"are up"}, ""},
		{"NATS_URL silent", nil, map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://127.0.0.1:%d/noetl", answering), "NATS_URL": fmt.Sprintf("nats://secretpw@127.0.0.1:%d", silent)},
			true, []string{fmt.Sprintf("NATS is not answering on 127.0.0.1:%d (from NATS_URL)", silent)}, ""},
		// Nothing chosen: the local server, which gets the documented noetl role and database.
		{"local default", nil, nil, false, []string{"are up"}, "psql "},
		// make test: the tests' servers, not make run's.
		{"tests ignore make run's servers", []string{"--tests"}, map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://127.0.0.1:%d/noetl", silent),
			"POSTGRES_PORT": fmt.Sprint(silent), "NATS_URL": fmt.Sprintf("nats://127.0.0.1:%d", silent)}, false, []string{"are up"}, "psql "},
		{"tests check NOETL_TEST_DATABASE_URL", []string{"--tests"}, map[string]string{"NOETL_TEST_DATABASE_URL": fmt.Sprintf("postgres://postgres:secretpw@127.0.0.1:%d/postgres", silent)},
			true, []string{fmt.Sprintf("127.0.0.1:%d (from NOETL_TEST_DATABASE_URL)", silent)}, ""},
		{"tests check NOETL_TEST_NATS_URL", []string{"--tests"}, map[string]string{"NOETL_TEST_NATS_URL": fmt.Sprintf("nats://127.0.0.1:%d", silent)},
			true, []string{fmt.Sprintf("127.0.0.1:%d (from NOETL_TEST_NATS_URL)", silent)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, calls, err := runDeps(t, tc.env, tc.args...)
			if (err != nil) != tc.fails {
				t.Fatalf("deps.sh: err %v, want failure %v\n%s", err, tc.fails, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "secretpw") {
				t.Errorf("output shows a credential:\n%s", out)
			}
			if tc.wantCalls == "" && calls != "" {
				t.Errorf("deps.sh touched a local server for the user's own:\n%s", calls)
			}
			if tc.wantCalls != "" && !strings.Contains(calls, tc.wantCalls) {
				t.Errorf("calls %q lack %q", calls, tc.wantCalls)
			}
		})
	}
}
