// Package proc runs a tool's child process (python, shell) in its own process group, so
// that a timeout or a cancelled command kills everything it started, not just the
// immediate child, and captures its output up to a bound.
package proc

import "bytes"
import "context"
import "errors"
import "fmt"
import "io"
import "io/fs"
import "maps"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "sync/atomic"
import "syscall"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/config"

// MaxOutput bounds each captured stream; what is past it is dropped with a note.
const MaxOutput = 8 << 20

// Spec is one process to run.
type Spec struct {
	Path  string
	Args  []string
	Dir   string
	Env   []string // the full environment
	Stdin []byte
	// Timeout kills the process group after this long (0: no limit).
	Timeout time.Duration
}

// Options are the settings every process tool reads from its config besides its
// program: `cwd`, `env` (variables added to the environment) and `timeout_seconds`
// (alias `timeout`).
type Options struct {
	Dir     string
	Env     []tool.Pair
	Timeout time.Duration
}

// ReadOptions reads the Options of a tool config.
func ReadOptions(cfg map[string]any) (Options, error) {
	dir, _, err := tool.String(cfg, "cwd")
	if err != nil {
		return Options{}, err
	}
	if dir != "" {
		// Checked here: a missing cwd fails the start with "fork/exec /usr/bin/sh: no such
		// file or directory", which blames the interpreter.
		if fi, err := os.Stat(dir); err != nil {
			return Options{}, tool.Configf("cwd: %v", err)
		} else if !fi.IsDir() {
			return Options{}, tool.Configf("cwd %q is not a directory", dir)
		}
	}
	env, err := tool.StringPairs(cfg, "env")
	if err != nil {
		return Options{}, err
	}
	for _, p := range env {
		// A name with "=" would set another variable than it says (A=B=c is A), an
		// empty one nothing at all; a NUL byte would fail the start.
		if p.Key == "" || strings.ContainsAny(p.Key, "=\x00") {
			return Options{}, tool.Configf("env: %q is not a variable name", p.Key)
		}
		if strings.ContainsRune(p.Value, 0) {
			return Options{}, tool.Configf("env.%s holds a NUL byte, which no variable can", p.Key)
		}
	}
	timeout, _, err := tool.Seconds(cfg, "timeout_seconds", "timeout")
	if err != nil {
		return Options{}, err
	}
	return Options{Dir: dir, Env: env, Timeout: timeout}, nil
}

// Environ is the process environment: the tool's own variables (base) over Environ's,
// and the config's env over both.
func (o Options) Environ(base map[string]string) []string {
	extra := make(map[string]string, len(base)+len(o.Env))
	maps.Copy(extra, base)
	for _, p := range o.Env {
		extra[p.Key] = p.Value
	}
	return Environ(extra)
}

// TempDir makes a private temporary directory for one step's process and returns base
// with TMPDIR, TMP and TEMP naming it (a step's own `env` still wins, Options.Environ),
// and the function that removes it with everything in it. What a step leaves in its
// temporary files (a key file it wrote for a command line tool, a download) goes with
// the step; in the shared temporary directory it stayed for every later step, of any
// execution, to read, until the worker's disk filled.
func TempDir(base map[string]string) (map[string]string, func(), error) {
	dir, err := MkdirTemp("noetl-step-")
	if err != nil {
		return nil, nil, fmt.Errorf("a temporary directory for the step: %w", err)
	}
	env := make(map[string]string, len(base)+3)
	maps.Copy(env, base)
	for _, k := range []string{"TMPDIR", "TMP", "TEMP"} {
		env[k] = dir
	}
	return env, func() { removeAll(dir) }, nil
}

// scratchPrefix names the directory a worker process keeps its steps' temporary
// directories in: <tmp>/noetl-worker-<pid>-<random>.
const scratchPrefix = "noetl-worker-"

// scratchRoot is that directory once Scratch made it.
var scratchRoot atomic.Pointer[string]

// Scratch makes the directory this worker process keeps its steps' temporary
// directories in (TempDir, MkdirTemp), after removing those that worker processes that
// are gone left behind: a worker killed mid-step (the OOM killer, SIGKILL) left its
// steps' files, results and key files among them, in a /tmp that outlives the
// container (the chart's emptyDir), where they piled up for every later step to read.
// It returns the function that removes the directory when the worker stops.
func Scratch() (func(), error) {
	tmp := os.TempDir()
	sweepScratch(tmp)
	dir, err := os.MkdirTemp(tmp, scratchPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("the worker's temporary directory: %w", err)
	}
	scratchRoot.Store(&dir)
	return func() {
		scratchRoot.CompareAndSwap(&dir, nil)
		removeAll(dir)
	}, nil
}

// sweepScratch removes the scratch directories in tmp of worker processes that are gone,
// or that had this process's pid before it made one (the previous worker of a container
// was PID 1 too).
func sweepScratch(tmp string) {
	own := scratchRoot.Load() == nil
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), scratchPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		digits, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(digits)
		if err != nil || pid <= 0 || (pid == os.Getpid() && !own) || (pid != os.Getpid() && alive(pid)) {
			continue
		}
		removeAll(filepath.Join(tmp, e.Name()))
	}
}

// alive reports whether a process pid exists (of any user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// MkdirTemp makes a private directory in the worker's scratch directory (Scratch), or
// in the system's temporary directory before there is one.
func MkdirTemp(pattern string) (string, error) {
	root := ""
	if p := scratchRoot.Load(); p != nil {
		root = *p
	}
	return os.MkdirTemp(root, pattern)
}

// removeAll removes dir, giving back first the permissions a step may have taken from
// its own files and directories (a chmod 000 directory would keep its contents).
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// Outcome is how the process ended.
type Outcome struct {
	// Stdout and Stderr are the streams as text (for messages and the ToolResult's
	// stdout and stderr); bytes that are not UTF-8, and NUL bytes, are U+FFFD in them.
	// Streams gives them to data without losing a byte.
	Stdout, Stderr string
	stdout, stderr any
	ExitCode       int
	// TimedOut: Timeout expired and the group was killed. Cancelled: ctx ended first.
	TimedOut, Cancelled bool
	// Signal is the signal that killed the process when it was not the timeout's or
	// the cancel's (ExitCode is then 128 + its number).
	Signal syscall.Signal
	// StartErr is set when the process could not be started at all.
	StartErr error
	Duration time.Duration
}

// Run runs the process to its end.
func Run(ctx context.Context, s Spec) Outcome {
	start := time.Now()
	runCtx := ctx
	var cancel context.CancelFunc = func() {}
	if s.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, s.Timeout)
	}
	defer cancel()
	cmd := exec.CommandContext(runCtx, s.Path, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error {
		// The negative pid is the whole group: grandchildren die with the child.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	if s.Stdin != nil {
		cmd.Stdin = bytes.NewReader(s.Stdin)
	}
	var stdout, stderr boundedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := Outcome{Stdout: stdout.String(), Stderr: stderr.String(), stdout: stdout.data(), stderr: stderr.data(), Duration: time.Since(start)}
	if cmd.Process != nil {
		// Anything the child left in its group (a backgrounded sleep) goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		reapGroup(cmd.Process.Pid)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && runCtx.Err() == nil {
			// Killed by a signal not of our sending (the OOM killer, its own kill): the
			// code a shell reports for it, 128+n, not Go's -1.
			out.Signal = ws.Signal()
			out.ExitCode = 128 + int(out.Signal)
		}
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil:
		// The child exited, but something it started in the background (`sleep 30 &`)
		// kept its output open past WaitDelay; the group kill above ended that. The
		// child's own exit status is the outcome.
		out.ExitCode = cmd.ProcessState.ExitCode()
	case cmd.Process == nil:
		out.StartErr = err
		return out
	default:
		out.ExitCode = -1
	}
	if runCtx.Err() != nil {
		if ctx.Err() != nil {
			out.Cancelled = true
		} else {
			out.TimedOut = true
		}
	}
	return out
}

// Streams adds stdout and stderr to a tool's data d: each as text when it is UTF-8,
// else as {base64, size} (plus `truncated`, the bytes dropped past MaxOutput) with
// `stdout_encoding: base64` (or stderr_), as the http tool gives a body that is not
// UTF-8. A JSON string would turn every invalid byte into U+FFFD.
func (o Outcome) Streams(d map[string]any) map[string]any {
	for _, s := range []struct {
		name string
		text string
		data any
	}{{"stdout", o.Stdout, o.stdout}, {"stderr", o.Stderr, o.stderr}} {
		switch v := s.data.(type) {
		case nil:
			d[s.name] = s.text
		case map[string]any:
			d[s.name], d[s.name+"_encoding"] = v, "base64"
		default:
			d[s.name] = v
		}
	}
	return d
}

// Environ is the worker's environment without the variables that hold the worker's
// own secrets: user code runs with the worker's rights but not with its tokens.
func Environ(extra map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if secretVar(name) {
			continue
		}
		if _, overridden := extra[name]; overridden {
			continue
		}
		if name == "NATS_URL" || name == "NOETL_NATS_URL" {
			kv = name + "=" + withoutUserinfo(kv[len(name)+1:])
		}
		out = append(out, kv)
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// withoutUserinfo is a NATS server list (comma-separated URLs) without the user,
// password or token a URL carries before its host: user code may learn where NATS is,
// not how the worker logs in.
func withoutUserinfo(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		scheme, rest, hasScheme := strings.Cut(p, "://")
		if !hasScheme {
			scheme, rest = "", p
		}
		host, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		p = host
		if hasPath {
			p += "/" + path
		}
		if hasScheme {
			p = scheme + "://" + p
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// secretVar names the worker's credentials and the control plane's secrets, and the
// <NAME>_FILE that names a file holding one: the step runs as the worker's user and
// can read that file, so it is not told where it is.
func secretVar(name string) bool {
	name = strings.TrimSuffix(name, config.FileSuffix)
	switch name {
	case "NOETL_WORKER_TOKEN", "NOETL_API_TOKEN", "NOETL_INTERNAL_API_TOKEN", "NATS_PASSWORD",
		"NOETL_ENCRYPTION_KEY", "NOETL_ENCRYPTION_PREVIOUS_KEYS", "POSTGRES_PASSWORD", "DATABASE_URL":
		return true
	}
	return false
}

// boundedBuffer keeps the first MaxOutput bytes and notes how much was dropped.
type boundedBuffer struct {
	buf     bytes.Buffer
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := MaxOutput - b.buf.Len()
	if room <= 0 {
		b.dropped += int64(len(p))
		return len(p), nil
	}
	if len(p) > room {
		b.buf.Write(p[:room])
		b.dropped += int64(len(p) - room)
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String is the stream as text, with each NUL byte as U+FFFD: PostgreSQL cannot store
// a NUL in text or jsonb, so the control plane refuses an event that holds one, and the
// step would fail for a byte of its output (`find -print0`, a binary tool).
func (b *boundedBuffer) String() string {
	s := b.buf.String()
	if b.dropped > 0 {
		kept := b.whole()
		dropped := b.dropped + int64(b.buf.Len()-len(kept))
		s = string(kept) + "\n[output truncated: " + strconv.FormatInt(dropped, 10) + " more bytes]"
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// data is the stream for a tool's data: its String when the bytes kept are UTF-8 (up
// to a character the bound cut) without a NUL byte, else {base64, size, truncated?} of
// all of them, which keeps every byte.
func (b *boundedBuffer) data() any {
	if w := b.whole(); utf8.Valid(w) && bytes.IndexByte(w, 0) < 0 {
		return b.String()
	}
	d := tool.Base64(b.buf.Bytes())
	if b.dropped > 0 {
		d["truncated"] = b.dropped
	}
	return d
}

// whole is the bytes kept without a character the bound cut in two.
func (b *boundedBuffer) whole() []byte {
	kept := b.buf.Bytes()
	if b.dropped == 0 {
		return kept
	}
	// The bound may fall inside a character; its first bytes would reach JSON as U+FFFD.
	for i := 1; i <= utf8.UTFMax && i <= len(kept); i++ {
		if utf8.RuneStart(kept[len(kept)-i]) {
			if !utf8.FullRune(kept[len(kept)-i:]) {
				kept = kept[:len(kept)-i]
			}
			break
		}
	}
	return kept
}

var _ io.Writer = (*boundedBuffer)(nil)

// Judge turns a finished process into a tool result without data: exit 0 is a
// success; another exit code an error naming it and the last line of stderr (a
// traceback's exception); a timeout or a cancelled command ends as such. stdout,
// stderr and the exit code are carried along.
func Judge(out Outcome, what, kind string, timeout time.Duration) tool.Result {
	r := tool.Result{Duration: out.Duration}
	if out.StartErr != nil {
		r = tool.Failed("process", false, "Process error: failed to start %s: %v", what, out.StartErr)
		r.Duration = out.Duration
		return r
	}
	code := out.ExitCode
	stdout, stderr := out.Stdout, out.Stderr
	r.Stdout, r.Stderr, r.ExitCode = &stdout, &stderr, &code
	switch {
	case out.Cancelled:
		r.Status, r.Error = tool.Error, what+" was cancelled"
		r.Fault = &tool.Fault{Kind: "cancelled"}
	case out.TimedOut:
		t := tool.TimedOut(true, "Execution timed out after %g seconds", timeout.Seconds())
		r.Status, r.Error, r.Fault = t.Status, t.Error, t.Fault
	case out.Signal != 0:
		r.Status = tool.Error
		r.Error = fmt.Sprintf("%s was killed by signal %d (%s)", what, int(out.Signal), out.Signal)
		if last := tool.LastLine(stderr); last != "" {
			r.Error += ": " + last
		}
		r.Fault = &tool.Fault{Kind: kind, Code: strconv.Itoa(code)}
	case code != 0:
		r.Status = tool.Error
		r.Error = fmt.Sprintf("%s exited with code %d", what, code)
		if last := tool.LastLine(stderr); last != "" {
			r.Error += ": " + last
		}
		r.Fault = &tool.Fault{Kind: kind, Code: strconv.Itoa(code)}
	default:
		r.Status = tool.Success
	}
	return r
}
