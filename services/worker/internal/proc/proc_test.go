package proc

import "bytes"
import "errors"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "reflect"
import "strings"
import "testing"

// A stream past the bound that is not UTF-8 keeps its first MaxOutput bytes as base64
// and says how many were dropped; one that is UTF-8 up to the cut stays text.
func TestBoundedBufferData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write []byte
		check func(t *testing.T, d any)
	}{
		{"binary past the bound", append(bytes.Repeat([]byte{0xff}, MaxOutput), 1, 2, 3), func(t *testing.T, d any) {
			m, ok := d.(map[string]any)
			if !ok || m["size"] != int64(MaxOutput) || m["truncated"] != int64(3) {
				t.Fatalf("size %v truncated %v", m["size"], m["truncated"])
			}
		}},
		{"UTF-8 cut inside a character", append(bytes.Repeat([]byte{'a'}, MaxOutput-1), 0xc3, 0xa9), func(t *testing.T, d any) {
			if s, ok := d.(string); !ok || len(s) != MaxOutput-1+len("\n[output truncated: 2 more bytes]") {
				t.Fatalf("got %T", d)
			}
		}},
		{"short binary", []byte{0xff}, func(t *testing.T, d any) {
			if want := map[string]any{"base64": "/w==", "size": int64(1)}; !reflect.DeepEqual(d, want) {
				t.Fatalf("got %#v", d)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b boundedBuffer
			_, _ = b.Write(tc.write)
			tc.check(t, b.data())
		})
	}
}

// A step's environment holds none of the worker's secrets, nor the path of a file that
// holds one (<NAME>_FILE), which the step, running as the worker's user, could read.
func TestEnvironKeepsTheWorkersSecretsOut(t *testing.T) {
	t.Setenv("NOETL_WORKER_TOKEN", "tok-1")
	t.Setenv("NOETL_API_TOKEN_FILE", "/run/secrets/api-token")
	t.Setenv("NATS_PASSWORD_FILE", "/run/secrets/nats")
	t.Setenv("NOETL_STEP_SETTING_FILE", "/etc/app.conf")
	env := strings.Join(Environ(map[string]string{"A": "b"}), "\n")
	for _, leaked := range []string{"tok-1", "/run/secrets/api-token", "/run/secrets/nats"} {
		if strings.Contains(env, leaked) {
			t.Errorf("the step's environment holds %q", leaked)
		}
	}
	for _, kept := range []string{"NOETL_STEP_SETTING_FILE=/etc/app.conf", "A=b"} {
		if !strings.Contains(env, kept) {
			t.Errorf("the step's environment lacks %q", kept)
		}
	}
}

// A worker's steps keep their temporary directories in one directory of the worker
// process's, removed when it stops; one that a killed worker left behind (its steps'
// results and key files in a /tmp that outlived it) is removed when the next starts.
// A running worker's is left alone.
func TestScratchRemovesWhatGoneWorkersLeft(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{ // name: kept
		fmt.Sprintf("noetl-worker-%d-1", gone.Process.Pid): false,
		fmt.Sprintf("noetl-worker-%d-2", os.Getpid()):      false, // this pid's predecessor (PID 1 of a container)
		fmt.Sprintf("noetl-worker-%d-3", os.Getppid()):     true,
		"noetl-worker-x-4": true,
		"elsewhere":        true,
	}
	for name := range dirs {
		if err := os.MkdirAll(filepath.Join(tmp, name, "noetl-step-1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name, "noetl-step-1", "key.pem"), []byte("s3cret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	remove, err := Scratch()
	if err != nil {
		t.Fatal(err)
	}
	for name, kept := range dirs {
		if _, err := os.Stat(filepath.Join(tmp, name)); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
	env, removeStep, err := TempDir(nil)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(env["TMPDIR"])
	if !strings.HasPrefix(filepath.Base(root), fmt.Sprintf("noetl-worker-%d-", os.Getpid())) || filepath.Dir(root) != tmp {
		t.Fatalf("the step's directory %s is not in the worker's", env["TMPDIR"])
	}
	removeStep()
	remove()
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the worker's directory is left behind: %v", err)
	}
}
