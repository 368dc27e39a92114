package proc

import "bytes"
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
