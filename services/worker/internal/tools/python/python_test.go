package python

import "context"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"

func run(t *testing.T, cfg map[string]any, vars map[string]any) tool.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	py := New("python3")
	if _, err := py.Check(ctx); err != nil {
		t.Fatal(err)
	}
	return py.Run(ctx, tool.Call{Kind: "python", Config: cfg, Vars: vars,
		Exec: tool.Exec{ExecutionID: 612345678901234567, Step: "start", ServerURL: "http://cp.example"}})
}

// wrapperFrame reports whether a traceback shows a frame of the wrapper, which python
// runs as -c code (File "<string>").
func wrapperFrame(s string) bool {
	return strings.Contains(s, `File "<string>"`) || strings.Contains(s, "noetl_wrapper")
}

func TestPythonResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  map[string]any
		vars map[string]any
		want any
	}{
		{"result global with input as globals and input_data",
			map[string]any{"input": map[string]any{"numbers": []any{int64(2), int64(3)}, "factor": int64(10)},
				"code": "result = {'total': sum(numbers) * factor, 'count': len(input_data['numbers']), 'is_int': isinstance(factor, int)}"},
			nil, map[string]any{"total": int64(50), "count": int64(2), "is_int": true}},
		{"keys that are not text become their JSON text", map[string]any{"code": "result = {3: 'a', True: 'b', None: 'c', 2.5: 'd'}"},
			nil, map[string]any{"3": "a", "true": "b", "null": "c", "2.5": "d"}},
		{"args is an alias of input, input wins on a clash",
			map[string]any{"args": map[string]any{"a": int64(1), "b": int64(2)}, "input": map[string]any{"b": int64(5)}, "code": "result = a + b"},
			nil, int64(6)},
		{"an input key named input_data is kept as given",
			map[string]any{"input": map[string]any{"input_data": map[string]any{"name": "x"}}, "code": "result = input_data['name']"},
			nil, "x"},
		{"main bound by parameter name, defaults kept",
			map[string]any{"input": map[string]any{"a": int64(6), "b": int64(7), "unused": true}, "code": "def main(a, b, scale=1):\n    return {'product': a * b * scale}\n"},
			nil, map[string]any{"product": int64(42)}},
		{"main parameters no argument fills take the wrapper's globals; an argument or a default wins",
			map[string]any{"input": map[string]any{"n": int64(2), "step": "from input"},
				"code": "def main(context, input_data, n, step, execution_id, variables, server_url='kept'):\n    return [context['who'], input_data['n'], n, step, execution_id, variables['who'], server_url]\n"},
			map[string]any{"who": "w"}, []any{"w", int64(2), int64(2), "from input", "612345678901234567", "w", "kept"}},
		{"main with **kwargs gets every argument",
			map[string]any{"input": map[string]any{"a": int64(1), "b": int64(2)}, "code": "def main(**kw):\n    return sorted(kw)\n"},
			nil, []any{"a", "b"}},
		{"async main is awaited",
			map[string]any{"code": "async def main():\n    return 'awaited'\n"},
			nil, "awaited"},
		{"top-level return",
			map[string]any{"input": map[string]any{"name": "noetl"}, "code": "greeting = 'hello ' + name\nreturn {'greeting': greeting, 'length': len(greeting)}\n"},
			nil, map[string]any{"greeting": "hello noetl", "length": int64(11)}},
		{"a result global wins over main",
			map[string]any{"code": "result = {'winner': 'result global'}\n\ndef main():\n    return {'winner': 'main'}\n"},
			nil, map[string]any{"winner": "result global"}},
		{"context carries the step, the execution id and the variables",
			map[string]any{"code": "result = [context['step'], context['execution_id'], context['who'], variables['who'], step]"},
			map[string]any{"who": "w"}, []any{"start", "612345678901234567", "w", "w", "start"}},
		{"integers keep 64 bits both ways",
			map[string]any{"input": map[string]any{"big": int64(3900000000000000123)}, "code": "result = big + 1"},
			nil, int64(3900000000000000124)},
		{"libs: alias of a module and from-import",
			map[string]any{"libs": map[string]any{"m": "math", "b64": "base64", "hexlify": map[string]any{"from": "binascii", "import": "hexlify"}},
				"code": "result = [m.floor(2.7), b64.b64encode(b'noetl').decode(), hexlify(b'noetl').decode()]"},
			nil, []any{int64(2), "bm9ldGw=", "6e6f65746c"}},
		{"libs as a list: importable modules imported, pip names skipped",
			map[string]any{"libs": []any{"json", "psycopg2-binary"}, "code": "result = json.dumps([1])"},
			nil, "[1]"},
		{"no result: stdout and stderr are the data",
			map[string]any{"code": "import sys\nprint('out')\nprint('err', file=sys.stderr)"},
			nil, map[string]any{"stdout": "out\n", "stderr": "err\n"}},
		{"an early exit with JSON on stdout",
			map[string]any{"code": "import sys, json\nprint(json.dumps({'early': True}))\nsys.exit(0)"},
			nil, map[string]any{"early": true}},
		// The exit ended the wrapper before it wrote the result: the data was only the output.
		{"sys.exit(0) after setting result keeps the result",
			map[string]any{"code": "import sys\nresult = {'done': True}\nprint('bye')\nsys.exit(0)"},
			nil, map[string]any{"done": true}},
		// The script ran main and then the wrapper ran it again: every side effect twice.
		{"a script that runs its own main runs it once, and its value is the result",
			map[string]any{"code": "def main():\n    print('ran')\n    return 1\n\nif __name__ == '__main__':\n    main()\n"},
			nil, int64(1)},
		{"asyncio.run(main()) runs main once",
			map[string]any{"code": "import asyncio\nasync def main():\n    print('ran')\n    return 2\n\nif __name__ == '__main__':\n    asyncio.run(main())\n"},
			nil, int64(2)},
		{"a main the script calls in a loop runs as often as the loop says",
			map[string]any{"code": "def main(n=0):\n    print('ran')\n    return n\n\nfor i in range(2):\n    main(i)\n"},
			nil, int64(1)},
		{"a call of main the script does not reach leaves main to the wrapper",
			map[string]any{"code": "def main():\n    print('ran')\n    return 3\n\nif False:\n    main()\n"},
			nil, int64(3)},
		{"a top-level return after helper functions",
			map[string]any{"input": map[string]any{"n": int64(4)}, "code": "def double(x):\n    return 2 * x\n\nreturn {'doubled': double(n)}\n"},
			nil, map[string]any{"doubled": int64(8)}},
		{"x = run() style: the script calls its own entry",
			map[string]any{"code": "def run():\n    return {'ran': True}\n\nresult = run()\n"},
			nil, map[string]any{"ran": true}},
		{"x = run() without a result global: the output is the data",
			map[string]any{"code": "def run():\n    print('ran')\n    return 1\n\nx = run()\n"},
			nil, map[string]any{"stdout": "ran\n", "stderr": ""}},
		{"a main that returns nothing: the output is the data",
			map[string]any{"code": "def main():\n    print('side effect')\n"},
			nil, map[string]any{"stdout": "side effect\n", "stderr": ""}},
		{"integers past 64 bits are exact decimal strings, at any depth",
			map[string]any{"code": "result = {'big': 2**70, 'neg': -2**64, 'small': 2**62, 'list': [2**100]}"},
			nil, map[string]any{"big": "1180591620717411303424", "neg": "-18446744073709551616", "small": int64(4611686018427387904), "list": []any{"1267650600228229401496703205376"}}},
		{"bytes: UTF-8 as text, other bytes base64",
			map[string]any{"code": "result = {'text': 'café'.encode(), 'raw': b'\\xff\\x00', 'nested': [bytearray(b'ok')]}"},
			nil, map[string]any{"text": "café", "raw": map[string]any{"base64": "/wA=", "size": int64(2)}, "nested": []any{"ok"}}},
		// numpy's int64 is no int: a column's sum arrived as the text "5".
		{"numpy-like values and array.array become numbers and lists",
			map[string]any{"code": "import array\nclass Int64:\n    def tolist(self):\n        return 5\nresult = {'n': Int64(), 'a': array.array('i', [1, 2]), 'f': array.array('d', [0.5])}"},
			nil, map[string]any{"n": int64(5), "a": []any{int64(1), int64(2)}, "f": []any{0.5}}},
		{"the result does not ride on stdout: a printed marker is only output",
			map[string]any{"code": "print('\\n@@__NOETL_RESULT__@@\"spoof\"')\nresult = 'real'"},
			nil, "real"},
		{"a result past the 8 MiB output capture still arrives whole",
			map[string]any{"code": "result = 'x' * (9 << 20)"},
			nil, strings.Repeat("x", 9<<20)},
		// json.loads reads "3" as an int: 3.0 / 2 was 1 under //, and isinstance(x, float) failed.
		{"a whole float stays a float, in the input and in the context",
			map[string]any{"input": map[string]any{"x": 3.0, "l": []any{1.0, int64(2)}, "big": 1e300},
				"code": "result = [isinstance(x, float), type(l[0]).__name__, type(l[1]).__name__, isinstance(context['rate'], float), isinstance(big, float)]"},
			map[string]any{"rate": 2.0}, []any{true, "float", "int", true, true}},
		// An argument named result passed itself on as the step's result, and main never ran.
		{"an input named result is a global, not the result: main runs",
			map[string]any{"input": map[string]any{"result": int64(5)}, "code": "def main(result):\n    return result * 2\n"},
			nil, int64(10)},
		{"an input named result is a global, not the result: no result, the output is the data",
			map[string]any{"input": map[string]any{"result": "in"}, "code": "print(result)"},
			nil, map[string]any{"stdout": "in\n", "stderr": ""}},
		{"an input named result: code that assigns result sets it",
			map[string]any{"input": map[string]any{"result": int64(5)}, "code": "result = result + 1"},
			nil, int64(6)},
		{"an input named result: code that assigns it the same value sets it",
			map[string]any{"input": map[string]any{"result": int64(5)}, "code": "result = 5\ndef main():\n    return 'main'\n"},
			nil, int64(5)},
		{"an input named result: a function that declares it global sets it",
			map[string]any{"input": map[string]any{"result": []any{int64(1)}}, "code": "def f():\n    global result\n    result = result\nf()"},
			nil, []any{int64(1)}},
		{"script.source inline code",
			map[string]any{"script": map[string]any{"source": map[string]any{"type": "inline", "code": "result = 'inline'"}}},
			nil, "inline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.cfg, tc.vars)
			if r.Status != tool.Success {
				t.Fatalf("status %s, error %q, stderr %v", r.Status, r.Error, deref(r.Stderr))
			}
			if !reflect.DeepEqual(r.Data, tc.want) {
				t.Fatalf("data = %#v, want %#v", r.Data, tc.want)
			}
			if code, _ := tc.cfg["code"].(string); strings.Contains(code, "print('ran')") && !strings.Contains(code, "range(2)") && deref(r.Stdout) != "ran\n" {
				t.Fatalf("stdout %q: main did not run once", deref(r.Stdout))
			}
		})
	}
}

func TestPythonFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    map[string]any
		status tool.Status
		kind   string
		error  string
	}{
		{"an exception names its last line", map[string]any{"code": "raise ValueError('conformance raised on purpose')"},
			tool.Error, "python", "Python script exited with code 1: ValueError: conformance raised on purpose"},
		{"a failed assert", map[string]any{"input": map[string]any{"n": int64(3)}, "code": "assert n == 7, 'sum mismatch'"},
			tool.Error, "python", "AssertionError: sum mismatch"},
		{"a syntax error", map[string]any{"code": "def ("},
			tool.Error, "python", "SyntaxError"},
		{"a missing module in libs", map[string]any{"libs": map[string]any{"x": "no_such_module_noetl"}, "code": "result = 1"},
			tool.Error, "python", "ModuleNotFoundError"},
		{"the timeout kills the process", map[string]any{"code": "import time\ntime.sleep(30)", "timeout_seconds": 0.5},
			tool.Timeout, "timeout", "timed out after 0.5 seconds"},
		{"no code", map[string]any{}, tool.Error, "config", "python config has no code"},
		{"blank code", map[string]any{"code": "\n   \n"}, tool.Error, "config", "the python code is blank"},
		{"a result that is not JSON", map[string]any{"code": "result = float('nan')"},
			tool.Error, "python", "not JSON"},
		{"only functions and no entry", map[string]any{"code": "def helper():\n    return 1\n\ndef other():\n    pass\n"},
			tool.Error, "python", "the code defines helper, other but no main() and sets no result"},
		{"a result over 32 MiB", map[string]any{"code": "result = 'x' * (33 << 20)"},
			tool.Error, "python", "the result is 34603010 bytes of JSON, over the 32 MiB limit"},
		// Was a RecursionError followed by 16 KiB of the wrapper's own frames.
		{"a result that contains itself", map[string]any{"code": "result = []\nresult.append(result)"},
			tool.Error, "python", "Python script exited with code 1: noetl: the step's result is not JSON: it contains itself, or nests too deep"},
		// 1 and "1" are both the key "1": one value was dropped without a word.
		{"two keys that are one in JSON", map[string]any{"code": "result = {'n': {1: 'a', '1': 'b'}}"},
			tool.Error, "python", `the step's result is not JSON: two keys of one object are both "1" in JSON`},
		{"libs of the wrong shape", map[string]any{"libs": "math", "code": "result = 1"},
			tool.Error, "config", "libs must be an object or a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.cfg, nil)
			if r.Status != tc.status || r.Fault == nil || r.Fault.Kind != tc.kind || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %+v %q, want %s %s containing %q", r.Status, r.Fault, r.Error, tc.status, tc.kind, tc.error)
			}
			// What the script printed stays in the data (a step that continues on error
			// reads it), with the exit code when the process exited on its own.
			if wrapperFrame(r.Error) {
				t.Fatalf("the wrapper's own frames are in the error:\n%.2000s", r.Error)
			}
			if tc.kind == "python" {
				d, _ := r.Data.(map[string]any)
				if _, ok := d["exit_code"]; !ok {
					t.Fatalf("data %v", r.Data)
				}
				if strings.Contains(r.Error, "exited with code") && (d["exit_code"] != int64(1) || fmt.Sprint(d["stderr"]) == "") {
					t.Fatalf("data %v", r.Data)
				}
			}
			if tc.kind == "timeout" {
				if d, _ := r.Data.(map[string]any); d == nil || d["exit_code"] != nil {
					t.Fatalf("data %v", r.Data)
				}
			}
		})
	}
}

// The traceback of an exception reaches the step's error, not just its last line: the
// frames say where in the step's code it was raised. A SyntaxError has no frames (the
// code never ran): its location, the line and the caret, is what says where.
func TestPythonTracebackInTheError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, code string
		want       []string
	}{
		{"an exception", "def inner():\n    return 1 / 0\n\ndef main():\n    return inner()\n",
			[]string{"Python script exited with code 1: ZeroDivisionError: division by zero", "Traceback (most recent call last):",
				`File "<step>", line 2, in inner`, `File "<step>", line 5, in main`}},
		// The last stderr line was the step's headline: here "^", as a database driver's
		// error ends.
		{"an exception whose message has several lines", "def main():\n    raise RuntimeError('relation \"x\" does not exist\\nLINE 1: SELECT * FROM x\\n                      ^')\n",
			[]string{"Python script exited with code 1: RuntimeError: relation \"x\" does not exist\nTraceback (most recent call last):", "LINE 1: SELECT * FROM x\n"}},
		// Every line of a group's traceback has a gutter: the headline was the closing
		// "+----" line, or a message's second line.
		{"an exception group names the exception in it", "import asyncio\nasync def bad():\n    raise ValueError('task failed\\nsecond line')\n" +
			"async def main():\n    async with asyncio.TaskGroup() as tg:\n        tg.create_task(bad())\n",
			[]string{"Python script exited with code 1: ValueError: task failed\n", "Exception Group Traceback", `File "<step>", line 5, in main`,
				`File "<step>", line 3, in bad`}},
		{"a chained exception names the last", "try:\n    1 / 0\nexcept Exception as e:\n    raise ValueError('top\\nmore') from e\n",
			[]string{"Python script exited with code 1: ValueError: top\nTraceback (most recent call last):"}},
		{"a syntax error", "x = 1\ndef f(:\n    pass\n",
			[]string{"Python script exited with code 1: SyntaxError: ", "\n" + `  File "<step>", line 2` + "\n    def f(:\n"}},
		{"an indentation error", "if True:\nx = 1\n",
			[]string{"Python script exited with code 1: IndentationError: ", "\n" + `  File "<step>", line 2` + "\n    x = 1\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, map[string]any{"code": tc.code}, nil)
			if r.Status != tool.Error {
				t.Fatalf("status %s", r.Status)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.Error, want) {
					t.Errorf("the error lacks %q:\n%s", want, r.Error)
				}
			}
			if wrapperFrame(r.Error) {
				t.Errorf("the wrapper's own frames are in the error:\n%s", r.Error)
			}
		})
	}
}

// What the script wrote that is not UTF-8 reaches the data as {base64, size} with an
// encoding marker, not as U+FFFD.
func TestPythonBinaryOutputKeepsEveryByte(t *testing.T) {
	t.Parallel()
	r := run(t, map[string]any{"code": "import sys\nsys.stdout.buffer.write(b'\\xff\\x00a')\nsys.stdout.flush()\nprint('note', file=sys.stderr)"}, nil)
	if r.Status != tool.Success {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	want := map[string]any{"stdout": map[string]any{"base64": "/wBh", "size": int64(3)}, "stdout_encoding": "base64", "stderr": "note\n"}
	if !reflect.DeepEqual(r.Data, want) {
		t.Fatalf("data %#v, want %#v", r.Data, want)
	}
}

// An exception outside Exception (KeyboardInterrupt, GeneratorExit) shows the step's
// frames only, as any other does; a KeyboardInterrupt still ends the process as the
// interpreter does, by SIGINT. sys.exit stays an exit with its code and no traceback.
func TestPythonBaseExceptionTraceback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code, error string
		exit              int64
	}{
		{"KeyboardInterrupt", "def main():\n    raise KeyboardInterrupt('stop')\n",
			"Python script was killed by signal 2 (interrupt): KeyboardInterrupt: stop", 130},
		{"GeneratorExit", "def main():\n    raise GeneratorExit('gone')\n",
			"Python script exited with code 1: GeneratorExit: gone", 1},
		{"sys.exit", "import sys\nsys.exit(3)", "Python script exited with code 3", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, map[string]any{"code": tc.code}, nil)
			d, _ := r.Data.(map[string]any)
			if r.Status != tool.Error || !strings.HasPrefix(r.Error, tc.error) || d["exit_code"] != tc.exit {
				t.Fatalf("got %s %q %v", r.Status, r.Error, d["exit_code"])
			}
			if wrapperFrame(r.Error) || wrapperFrame(fmt.Sprint(d["stderr"])) {
				t.Fatalf("the wrapper's own frames are in the error:\n%s", r.Error)
			}
			if tc.exit != 3 && !strings.Contains(r.Error, `File "<step>", line 2, in main`) {
				t.Fatalf("the step's frame is missing:\n%s", r.Error)
			}
		})
	}
}

// A timeout kills the whole process group: a grandchild that holds stdout open does
// not keep the step waiting.
func TestPythonTimeoutKillsTheGroup(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := run(t, map[string]any{"timeout_seconds": 1,
		"code": "import subprocess, time\nsubprocess.Popen(['sleep', '30'])\ntime.sleep(30)"}, nil)
	if r.Status != tool.Timeout {
		t.Fatalf("status %s (%s)", r.Status, r.Error)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the step took %s: the group was not killed", d)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Check resolves the interpreter to the executable behind it (a version manager's shim
// costs hundreds of milliseconds per start) and refuses what is not python 3.
func TestCheck(t *testing.T) {
	t.Parallel()
	exe, err := New("python3").Check(context.Background())
	if err != nil || !strings.HasPrefix(exe, "/") {
		t.Fatalf("Check = %q, %v", exe, err)
	}
	if _, err := New("no-such-python-noetl").Check(context.Background()); err == nil {
		t.Fatal("a missing interpreter passed the check")
	}
	if _, err := New("true").Check(context.Background()); err == nil || !strings.Contains(err.Error(), "not python 3") {
		t.Fatalf("`true` as python: %v", err)
	}
}

// The worker's NATS URL may carry its NATS credentials: python code sees where NATS is,
// not how the worker logs in.
func TestPythonEnvironmentHidesNATSCredentials(t *testing.T) {
	t.Setenv("NATS_URL", "nats://worker:nats-Secret-1@nats-a:4222")
	r := run(t, map[string]any{"code": "import os\nresult = os.environ['NATS_URL']"}, nil)
	if r.Status != tool.Success || r.Data != "nats://nats-a:4222" {
		t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
	}
}

// A script fetched over http runs whole or not at all: one past the bound was cut and
// its first 8 MiB ran as if they were the script.
func TestPythonFetchedScriptBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		status tool.Status
		error  string
	}{
		{"within the bound", "result = 'whole'", tool.Success, ""},
		{"past the bound", "result = 'first part'\n#" + strings.Repeat("x", MaxScript) + "\nraise SystemExit(3)", tool.Error,
			"Configuration error: python: fetch python script: the script is over the 8 MiB limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, tc.script) }))
			t.Cleanup(srv.Close)
			r := run(t, map[string]any{"script": map[string]any{"uri": srv.URL + "/step.py", "source": map[string]any{"type": "http"}}}, nil)
			if r.Status != tc.status || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
			}
		})
	}
}

// A script URL that does not parse is reported without its password: http.NewRequest's
// error quoted the whole URL.
// A server that is restarting answers 503: a policy retry on output.error.retryable
// should ask again, which a config error ruled out. A 404 is a wrong URL, and stays one.
func TestPythonScriptFetchFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code      int
		kind      string
		retryable bool
	}{{503, "connection", true}, {429, "connection", true}, {404, "config", false}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.code) }))
			t.Cleanup(srv.Close)
			r := run(t, map[string]any{"script": map[string]any{"uri": srv.URL + "/step.py", "source": map[string]any{"type": "http"}}}, nil)
			if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != tc.kind || r.Fault.Retryable != tc.retryable ||
				!strings.Contains(r.Error, fmt.Sprintf("fetch python script: HTTP %d", tc.code)) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
		})
	}
}

func TestPythonScriptURLHidesPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, uri string }{
		{"a '/' in the password", "http://user:pw-Secret/7@scripts.example.test/step.py"},
		{"a bad port after the userinfo", "http://user:pw-Secret@scripts.example.test:port/step.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, map[string]any{"script": map[string]any{"uri": tc.uri, "source": map[string]any{"type": "http"}}}, nil)
			if r.Status != tool.Error || !strings.Contains(r.Error, "python script URL does not parse") || strings.Contains(r.Error, "Secret") {
				t.Fatalf("got %s %q", r.Status, r.Error)
			}
		})
	}
}

// Run as a script, the wrapper had its own temporary directory first on the import path:
// a module beside the step, in its cwd, was not found.
func TestPythonImportsFromItsCwd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "helpers_th.py"), []byte("ANSWER = 42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, map[string]any{"code": "import sys\nimport helpers_th\nresult = [helpers_th.ANSWER, 'noetl-python-' in sys.path[0]]", "cwd": dir}, nil)
	if r.Status != tool.Success || !reflect.DeepEqual(r.Data, []any{int64(42), false}) {
		t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
	}
}

// Every step runs as the worker's user: a step that rewrites the wrapper it runs under
// must not change what later steps, of any execution, run. The wrapper was a file in
// the temporary directory, written once per worker: a step could prepend its own code
// and read the arguments, variables and credentials of every python step after it.
func TestPythonStepCannotRewriteTheWrapper(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	py := New("python3")
	if _, err := py.Check(ctx); err != nil {
		t.Fatal(err)
	}
	tamper := `import __main__, os, sys
paths = [p for p in (getattr(__main__, "__file__", None), sys.argv[0]) if p and os.path.isfile(p)]
for p in paths:
    with open(p) as f:
        src = f.read()
    with open(p, "w") as f:
        f.write("print('TAMPERED')\n" + src)
result = {"rewrote": paths}`
	r := py.Run(ctx, tool.Call{Kind: "python", Config: map[string]any{"code": tamper}})
	if r.Status != tool.Success {
		t.Fatalf("tamper step: %s %q", r.Status, r.Error)
	}
	r = py.Run(ctx, tool.Call{Kind: "python", Config: map[string]any{"code": "result = 42"}})
	if r.Status != tool.Success || r.Data != int64(42) || (r.Stdout != nil && strings.Contains(*r.Stdout, "TAMPERED")) {
		t.Fatalf("the next step ran another wrapper: %s %v %q", r.Status, r.Data, *r.Stdout)
	}
}

// A python step's temporary files go with it (its TMPDIR is its own, removed when it
// ends), as a shell step's do.
func TestPythonTemporaryFilesGoWithTheStep(t *testing.T) {
	t.Parallel()
	r := run(t, map[string]any{"code": `import tempfile
with tempfile.NamedTemporaryFile(delete=False) as f:
    f.write(b"s3cret")
result = f.name`}, nil)
	path, _ := r.Data.(string)
	if r.Status != tool.Success || !strings.HasPrefix(path, os.TempDir()+"/noetl-step-") {
		t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Fatalf("the step's temporary directory is left behind: %v", err)
	}
}

// A python step's process is not dumpable: other steps, which run as the same user,
// cannot read its environment (its `env`, credentials among them), its stdin or its
// memory through /proc.
func TestPythonStepIsNotDumpable(t *testing.T) {
	t.Parallel()
	r := run(t, map[string]any{"code": "import ctypes\nresult = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)"}, nil) // PR_GET_DUMPABLE
	if r.Status != tool.Success || r.Data != int64(0) {
		t.Fatalf("got %s %q dumpable=%v", r.Status, r.Error, r.Data)
	}
}
