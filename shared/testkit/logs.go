package testkit

import "bytes"
import "strings"
import "sync"

// LogBuffer is a concurrency-safe io.Writer that collects log output for assertions
// (probe lines kept out of info logs, secrets never logged).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines returns the non-empty lines written so far.
func (l *LogBuffer) Lines() []string {
	var out []string
	for _, s := range strings.Split(l.String(), "\n") {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
