// Package python is the `python` tool: the step's code runs in a fresh python3 process
// per command, with upstream's wrapper semantics (see docs/worker.md "python"): every
// argument is a global and `input_data` holds them all; `libs` are imported for the
// code; the result is the `result` global, else what `main(...)` returns, and a
// top-level `return` makes the code a function body.
package python

import "bytes"
import "context"
import _ "embed"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "sort"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/proc"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/jsonx"

// wrapperSource is given to python with -c, never written to a file: every step runs as
// the worker's user, and a step could rewrite a wrapper file that all later python
// steps of the worker run, reading their arguments and credentials.
//
//go:embed wrapper.py
var wrapperSource string

// Tool runs python code.
type Tool struct {
	interpreter string
	http        *http.Client
}

// New returns the tool; interpreter is PYTHON_PATH (a `python` key in a step's config
// overrides it).
func New(interpreter string) *Tool {
	return &Tool{interpreter: interpreter, http: &http.Client{Timeout: 30 * time.Second}}
}

// Check verifies that the interpreter runs, so a worker without python3 says so at
// startup rather than on the first python step, and resolves it to the executable it
// really is. Version managers (pyenv, asdf) put a shell-script shim first on PATH that
// costs several hundred milliseconds per start; resolving it once keeps that off every
// python command. A step's own `python:` is used as given.
func (t *Tool) Check(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, t.interpreter, "-c", "import sys; print(sys.version_info[0]); print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("python interpreter %q: %w", t.interpreter, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "3" {
		return "", fmt.Errorf("python interpreter %q is not python 3", t.interpreter)
	}
	if exe := strings.TrimSpace(lines[1]); exe != "" {
		t.interpreter = exe
	}
	return t.interpreter, nil
}

// Run executes the code.
func (t *Tool) Run(ctx context.Context, call tool.Call) tool.Result {
	cfg := call.Config
	code, err := t.code(ctx, cfg)
	if err == nil && strings.TrimSpace(code) == "" {
		// A template that rendered to blank lines ran nothing and passed as a success.
		err = tool.Configf("the python code is blank")
	}
	var unreachable *fetchError
	if errors.As(err, &unreachable) {
		return tool.Failed("connection", true, "Python script: %v", err)
	}
	if err != nil {
		return tool.ConfigFailure("python", err)
	}
	args, err := tool.Args(cfg)
	if err != nil {
		return tool.ConfigFailure("python", err)
	}
	libs, err := Libs(cfg["libs"])
	if err != nil {
		return tool.ConfigFailure("python", err)
	}
	interp, _, err := tool.String(cfg, "python")
	if err != nil {
		return tool.ConfigFailure("python", err)
	}
	if interp == "" {
		interp = t.interpreter
	}
	opts, err := proc.ReadOptions(cfg)
	if err != nil {
		return tool.ConfigFailure("python", err)
	}
	dir, err := proc.MkdirTemp("noetl-python-result-")
	if err != nil {
		return tool.Failed("process", false, "Process error: a directory for the python result: %v", err)
	}
	defer os.RemoveAll(dir)
	resultFile := filepath.Join(dir, "result.json")
	stdin, err := jsonx.Marshal(map[string]any{
		"code": code, "args": floatsForPython(args), "variables": floatsForPython(call.Vars), "libs": libs, "result_file": resultFile,
		"execution_id": call.Exec.ExecutionIDString(), "step": call.Exec.Step, "server_url": call.Exec.ServerURL,
	})
	if err != nil {
		return tool.ConfigFailure("python", fmt.Errorf("arguments are not JSON: %w", err))
	}
	base, removeTemp, err := proc.TempDir(map[string]string{"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"})
	if err != nil {
		return tool.Failed("process", false, "Process error: %v", err)
	}
	defer removeTemp()
	env := opts.Environ(base)
	out := proc.Run(ctx, proc.Spec{Path: interp, Args: []string{"-c", wrapperSource}, Dir: opts.Dir, Env: env, Stdin: stdin, Timeout: opts.Timeout})
	r := proc.Judge(out, "Python script", "python", opts.Timeout)
	if out.StartErr != nil {
		return r
	}
	outputData := func() map[string]any {
		d := out.Streams(map[string]any{})
		if r.Status != tool.Success && !out.TimedOut && !out.Cancelled {
			d["exit_code"] = int64(out.ExitCode)
		}
		return d
	}
	if r.Status != tool.Success {
		if tb := traceback(out.Stderr); tb != "" && !out.TimedOut && !out.Cancelled {
			last := tool.LastLine(out.Stderr)
			if exc := exceptionLine(out.Stderr); exc != "" && exc != last && strings.HasSuffix(r.Error, ": "+last) {
				r.Error = strings.TrimSuffix(r.Error, last) + exc
			}
			r.Error += "\n" + tb
		}
		return r.WithData(outputData())
	}
	data, hasData, err := readResult(resultFile, out.Stdout)
	if err != nil {
		r = tool.Failed("python", false, "Python script: %v", err)
		r.Duration = out.Duration
		return r.WithData(outputData())
	}
	if !hasData || data == nil {
		return r.WithData(outputData())
	}
	return r.WithData(data)
}

// pyFloat is a float as python reads it: json.loads makes an int of "3", so a whole
// float (3.0 in the step, a float64 in the model) is written "3.0" and stays a float
// (3.0 / 2 is 1.5, isinstance(x, float) holds).
type pyFloat float64

func (f pyFloat) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(float64(f))
	if err == nil && !bytes.ContainsAny(b, ".eE") {
		b = append(b, ".0"...)
	}
	return b, err
}

// floatsForPython marks every float of a value for python (pyFloat).
func floatsForPython(v any) any {
	if f, ok := v.(float64); ok {
		return pyFloat(f)
	}
	return jsonx.MapChildren(v, floatsForPython)
}

// MaxResult bounds the JSON of a step's result.
const MaxResult = 32 << 20

// readResult is the result the wrapper wrote. Without the file (the code exited early),
// stdout that is JSON is the result.
func readResult(path, stdout string) (any, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if s := strings.TrimSpace(stdout); s != "" {
			if v, err := jsonx.Decode([]byte(s)); err == nil {
				return v, true, nil
			}
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the result: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxResult {
		return nil, false, fmt.Errorf("the result is %d bytes of JSON, over the %d MiB limit", st.Size(), MaxResult>>20)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxResult+1))
	if err != nil {
		return nil, false, fmt.Errorf("read the result: %w", err)
	}
	if len(b) > MaxResult {
		return nil, false, fmt.Errorf("the result is over the %d MiB limit", MaxResult>>20)
	}
	v, err := jsonx.Decode(b)
	if err != nil {
		return nil, false, fmt.Errorf("the result is not JSON: %w", err)
	}
	return v, true, nil
}

// maxTraceback bounds the traceback carried in a step's error; its end (the frames
// nearest the raise and the exception) is what is kept.
const maxTraceback = 16 << 10

// syntaxErrorAt starts the location block Python prints for a SyntaxError in the step's
// code: no "Traceback" header (the code never ran), only the line and a caret.
const syntaxErrorAt = "  File \"<step>\", line "

// traceback is the last Python traceback in stderr, or the location of a SyntaxError in
// the step's code (without it the error said "SyntaxError: invalid syntax" and no line);
// "" when there is neither.
func traceback(stderr string) string {
	i := tracebackStart(stderr)
	if i < 0 {
		i = strings.LastIndex(stderr, syntaxErrorAt)
		if i < 0 || (i > 0 && stderr[i-1] != '\n') {
			return ""
		}
	}
	tb := strings.TrimRight(stderr[i:], "\n")
	if len(tb) > maxTraceback {
		tb = "...\n" + tb[len(tb)-maxTraceback:]
	}
	return tb
}

// tracebackStart is where the last traceback in stderr begins, -1 without one: its
// header at the start of a line, or the header line of an exception group ("  +
// Exception Group Traceback ..."), whose frames lead to the group and whose
// sub-exceptions' tracebacks, behind a gutter, belong to it. The last header of all was
// a sub-exception's: the frames of the step that raised the group were cut off.
func tracebackStart(stderr string) int {
	const header = "Traceback (most recent call last):"
	for end := len(stderr); ; {
		i := strings.LastIndex(stderr[:end], header)
		if i < 0 {
			return -1
		}
		lineStart := strings.LastIndex(stderr[:i], "\n") + 1
		switch prefix := stderr[lineStart:i]; {
		case prefix == "":
			return i
		case strings.TrimLeft(prefix, " +") == "Exception Group ":
			return lineStart
		}
		end = i
	}
}

// exceptionLine is the first line of the exception that ended the last traceback in
// stderr ("psycopg2.errors.UndefinedTable: relation ..."), "" without a traceback. The
// last line of stderr is the exception only when its message is one line: a message of
// several (an SQL error's "LINE 1: ..." and caret, a note) made the step's error end in
// "^".
func exceptionLine(stderr string) string {
	const header = "Traceback (most recent call last):\n"
	i := strings.LastIndex(stderr, header)
	if i < 0 {
		return ""
	}
	// In an exception group (asyncio's TaskGroup raises one) each line of a traceback
	// stands behind a gutter, "    | ", as wide as what precedes the header on its line.
	gutter := strings.TrimSuffix(stderr[strings.LastIndex(stderr[:i], "\n")+1:i], "Exception Group ")
	if strings.Trim(gutter, " |+") != "" {
		gutter = ""
	}
	for line := range strings.SplitSeq(stderr[i+len(header):], "\n") {
		line, ok := strings.CutPrefix(line, gutter)
		if ok && line != "" && line[0] != ' ' && line[0] != '\t' {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// code is `code`, else the script `script.source` names: inline code, a local file or
// an http(s) URL.
func (t *Tool) code(ctx context.Context, cfg map[string]any) (string, error) {
	if code, ok, err := tool.String(cfg, "code"); err != nil || ok {
		return code, err
	}
	script, err := tool.Object(cfg, "script")
	if err != nil {
		return "", err
	}
	if script == nil {
		return "", tool.Configf("python config has no code: set `code:` or `script.source.code`")
	}
	source, err := tool.Object(script, "source")
	if err != nil {
		return "", err
	}
	if source == nil {
		source = map[string]any{}
	}
	typ, _, err := tool.String(source, "type")
	if err != nil {
		return "", err
	}
	uri, _, _ := tool.String(script, "uri", "path")
	switch strings.ToLower(typ) {
	case "", "inline":
		if code, ok, err := tool.String(source, "code"); err != nil || ok {
			return code, err
		}
		if code, ok, err := tool.String(script, "code"); err != nil || ok {
			return code, err
		}
		return "", tool.Configf("python config has no code: set `code:` or `script.source.code`")
	case "file":
		p, _, _ := tool.String(source, "path")
		if p == "" {
			p = uri
		}
		if p == "" {
			return "", tool.Configf("python script of type file needs script.uri")
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", tool.Configf("python script file: %v", err)
		}
		return string(b), nil
	case "http":
		u, _, _ := tool.String(source, "endpoint")
		if u == "" {
			u = uri
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return "", tool.Configf("python script of type http needs source.endpoint or script.uri (an http(s) URL)")
		}
		return t.fetch(ctx, u)
	default:
		return "", tool.Configf("python script `source.type: %s` is not supported; expected one of inline | file | http", typ)
	}
}

// fetchError is a script fetch that failed for a reason a retry can mend: no answer, a
// 429 or a 5xx. As a config error it was not retryable, so a policy retry on
// output.error.retryable gave up on a server that was restarting.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// MaxScript bounds a script fetched over http.
const MaxScript = 8 << 20

func (t *Tool) fetch(ctx context.Context, raw string) (string, error) {
	u, err := tool.ParseURL(raw)
	if err != nil {
		return "", tool.Configf("python script URL does not parse: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", tool.Configf("python script URL: %v", err)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return "", &fetchError{fmt.Errorf("fetch python script: %w", err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxScript+1))
	if err != nil {
		return "", &fetchError{fmt.Errorf("fetch python script: %w", err)}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return "", &fetchError{fmt.Errorf("fetch python script: HTTP %d", resp.StatusCode)}
	}
	if resp.StatusCode/100 != 2 {
		return "", tool.Configf("fetch python script: HTTP %d", resp.StatusCode)
	}
	if len(b) > MaxScript {
		// Cut at the bound, the script ran its first 8 MiB as if whole.
		return "", tool.Configf("fetch python script: the script is over the %d MiB limit", MaxScript>>20)
	}
	return string(b), nil
}

// A module path or a name to import.
var modulePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Libs turns `libs` into import instructions for the wrapper, in every form upstream
// accepts: `alias: module` (import module as alias), `alias: {from: X, import: Y}` (from
// X import Y as alias), and a list of names, which upstream treats as pip packages:
// entries that are module names are imported when importable, others are skipped.
func Libs(v any) ([]map[string]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		aliases := make([]string, 0, len(t))
		for a := range t {
			aliases = append(aliases, a)
		}
		sort.Strings(aliases)
		var out []map[string]any
		for _, alias := range aliases {
			if !identPattern.MatchString(alias) {
				return nil, tool.Configf("libs: %q is not a python name", alias)
			}
			switch spec := t[alias].(type) {
			case string:
				if !modulePattern.MatchString(spec) {
					return nil, tool.Configf("libs.%s: %q is not a module name", alias, spec)
				}
				out = append(out, map[string]any{"import": spec, "as": alias})
			case map[string]any:
				from, _ := spec["from"].(string)
				name, _ := spec["import"].(string)
				if !modulePattern.MatchString(from) || !identPattern.MatchString(name) {
					return nil, tool.Configf("libs.%s: want {from: <module>, import: <name>}", alias)
				}
				out = append(out, map[string]any{"from": from, "import": name, "as": alias})
			case nil:
				out = append(out, map[string]any{"import": alias, "as": alias})
			default:
				return nil, tool.Configf("libs.%s: want a module name or {from, import}", alias)
			}
		}
		return out, nil
	case []any:
		var out []map[string]any
		for _, e := range t {
			name, ok := e.(string)
			if !ok {
				return nil, tool.Configf("libs: list entries must be strings")
			}
			if modulePattern.MatchString(name) {
				out = append(out, map[string]any{"import": name, "as": name, "optional": true})
			}
		}
		return out, nil
	}
	return nil, tool.Configf("libs must be an object or a list")
}
