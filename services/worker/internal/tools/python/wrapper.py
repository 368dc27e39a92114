# The NoETL python tool's wrapper. It reads the call from stdin as JSON
# ({code, args, variables, execution_id, step, server_url, libs, result_file}), runs the
# step's code with upstream's globals, and writes the result as JSON to result_file.
import sys
import inspect
import json


def _noetl_mentions_main(node):
    # Whether an expression calls main, or hands it to a call (anyio.run(main)).
    import ast
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and any(
                isinstance(x, ast.Name) and x.id == "main"
                for x in [n.func] + n.args + [k.value for k in n.keywords]):
            return True
    return False


def _noetl_main_value(node):
    # An expression whose value is what main gives: main(...), or one call around it or
    # around main itself (asyncio.run(main()), anyio.run(main)).
    import ast
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Name) and node.func.id == "main":
        return True
    if len(node.args) != 1:
        return False
    a = node.args[0]
    return (isinstance(a, ast.Name) and a.id == "main") or (
        isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "main")


def _noetl_mark_main(body):
    # Rewrites a block's statements that run main (not inside a def or class): one whose
    # value is main's keeps it in __noetl_main__; any other sets __noetl_main_called__
    # just before it runs.
    import ast
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(stmt)
            continue
        blocks = [f for f in ("body", "orelse", "finalbody") if isinstance(getattr(stmt, f, None), list)]
        for f in blocks:
            setattr(stmt, f, _noetl_mark_main(getattr(stmt, f)))
        for handler in getattr(stmt, "handlers", None) or []:
            handler.body = _noetl_mark_main(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            case.body = _noetl_mark_main(case.body)
        if isinstance(stmt, (ast.Expr, ast.Assign)) and _noetl_main_value(stmt.value):
            keep = ast.Name("__noetl_main__", ast.Store())
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            out.append(ast.copy_location(ast.Assign(targets=[keep] + targets, value=stmt.value), stmt))
            continue
        heads = [getattr(stmt, f) for f in ("test", "iter", "subject") if getattr(stmt, f, None) is not None]
        heads += [item.context_expr for item in getattr(stmt, "items", None) or []]
        if not blocks and not heads:
            heads = [stmt]
        if any(_noetl_mentions_main(h) for h in heads):
            out.append(ast.copy_location(ast.parse("__noetl_main_called__ = True").body[0], stmt))
        out.append(stmt)
    return out


def _noetl_capture_main(code):
    # A script that runs its own main (`if __name__ == "__main__": main()`,
    # `asyncio.run(main())`) ran it, and then the wrapper ran it again: every side
    # effect twice. Such a script runs main as written, once; what main gives is the
    # result when the statement that ran it was only that.
    import ast
    if "main" not in code:
        return code
    try:
        tree = ast.parse(code, "<step>")
    except SyntaxError:
        return code  # compile says where
    tree.body = _noetl_mark_main(tree.body)
    ast.fix_missing_locations(tree)
    return tree


def _noetl_compile(code):
    # A top-level `return` makes the code a function body; Python itself says where one
    # is (helpers defined above it included), so no guessing from indentation.
    try:
        return compile(_noetl_capture_main(code), "<step>", "exec"), code
    except SyntaxError as e:
        if "'return' outside function" not in str(e.msg):
            raise
    body = "\n".join("    " + line for line in code.splitlines())
    wrapped = "def __noetl_step__(args, input_data, **kw):\n" + body + "\n    return None\n" + \
        "result = __noetl_step__(args, input_data)\n"
    # Line numbers in a traceback are one past the step's own; the frames still name it.
    return compile(wrapped, "<step>", "exec"), wrapped


def _noetl_only_functions(code):
    # The names of the functions a script defines when it does nothing else at the top
    # level (imports, classes, constants and a docstring aside): nothing would run.
    import ast
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.Pass)):
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            continue
        else:
            return []
    return names


def _noetl_binds_result(code):
    # Whether the code assigns the global `result` (at the top level, or a function that
    # declares it global), however it spells the assignment.
    import ast
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Global) and "result" in node.names:
            return True
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and node.id == "result" and isinstance(node.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == "result" for a in node.names):
            return True
        if isinstance(node, scopes):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return False


_NOETL_INT64 = (-(1 << 63), (1 << 63) - 1)


def _noetl_jsonable(v):
    # JSON has one number type and the worker reads integers as 64 bits: a wider one
    # becomes its exact decimal text rather than a float. Bytes are text when they are
    # UTF-8, else {base64, size} as the http tool gives a binary body.
    if v is None or isinstance(v, (bool, float, str)):
        return v
    if isinstance(v, int):
        return v if _NOETL_INT64[0] <= v <= _NOETL_INT64[1] else str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            import base64
            return {"base64": base64.b64encode(b).decode("ascii"), "size": len(b)}
    if isinstance(v, dict):
        # JSON keys are text: json.dumps writes 1 and "1" both as "1", and the worker's
        # reader kept the last of the two, silently.
        out = {}
        for k, x in v.items():
            key = k
            if k is None or isinstance(k, (bool, int, float)):
                key = json.dumps(k)
            if key in out:
                raise ValueError("two keys of one object are both %s in JSON (%r and another); "
                                 "make them distinct" % (json.dumps(key), k))
            out[key] = _noetl_jsonable(x)
        return out
    if isinstance(v, (list, tuple)):
        return [_noetl_jsonable(x) for x in v]
    tolist = getattr(v, "tolist", None)
    if callable(tolist) and not isinstance(v, type):
        # numpy's scalars and arrays, array.array: a sum of a column (numpy.int64) was
        # its str() text, "5", and an array "[1 2 3]".
        try:
            plain = tolist()
        except Exception:
            return v
        return _noetl_jsonable(plain)
    return v


def _noetl_import(g, lib):
    import importlib
    try:
        if lib.get("from"):
            mod = importlib.import_module(lib["from"])
            try:
                g[lib["as"]] = getattr(mod, lib["import"])
            except AttributeError:
                g[lib["as"]] = importlib.import_module(lib["from"] + "." + lib["import"])
        elif lib["as"] == lib["import"] and "." in lib["import"]:
            importlib.import_module(lib["import"])
            top = lib["import"].split(".")[0]
            g[top] = importlib.import_module(top)
        else:
            g[lib["as"]] = importlib.import_module(lib["import"])
    except ImportError:
        if lib.get("optional"):
            print("noetl: libs entry %r is not importable; skipped" % lib["import"], file=sys.stderr)
            return
        raise


# The wrapper's own globals a main() parameter may name.
_NOETL_GLOBALS = ("context", "input_data", "args", "variables", "execution_id", "step", "server_url")


def _noetl_call_main(main, args, g):
    import inspect
    try:
        sig = inspect.signature(main)
    except (TypeError, ValueError):
        return main()
    params = sig.parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        kwargs = dict(args)
    else:
        kwargs = {p.name: args[p.name] for p in params
                  if p.name in args and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    # A parameter no argument fills and without a default, named after one of the
    # wrapper's globals (def main(context), def main(input_data)), gets that global
    # rather than a TypeError.
    for p in params:
        if (p.name not in kwargs and p.name in _NOETL_GLOBALS and p.default is p.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)):
            kwargs[p.name] = g[p.name]
    value = main(**kwargs)
    if inspect.iscoroutine(value):
        import asyncio
        value = asyncio.run(value)
    return value


def _noetl_code_result(g, args, code):
    # The result global the code set, and whether it set one. An argument named result
    # is a global like any other, not the step's result: taken as the result, it
    # skipped main and passed the input on as the output.
    result = g.get("result")
    if "result" in args and result is args["result"] and not _noetl_binds_result(code):
        return None, False
    return result, "result" in g


def _noetl_private():
    # Every step runs as the worker's user: without this, another step read this one's
    # environment (its `env`, credentials among them) in /proc/<pid>/environ, its call
    # on stdin through /proc/<pid>/fd/0, and its memory where ptrace allows.
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:
        pass


def _noetl_run():
    _noetl_private()
    call = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    args = call.get("args") or {}
    variables = call.get("variables") or {}
    meta = {
        "args": args,
        "variables": variables,
        "execution_id": call.get("execution_id"),
        "step": call.get("step"),
        "server_url": call.get("server_url"),
    }
    context = dict(variables)
    context.update(meta)
    g = {"__name__": "__main__", "__builtins__": __builtins__, "context": context}
    g.update(meta)
    g.update(args)
    g["input_data"] = args["input_data"] if "input_data" in args else dict(args)
    code = call.get("code") or ""
    try:
        for lib in call.get("libs") or []:
            _noetl_import(g, lib)
        compiled, code = _noetl_compile(code)
        exec(compiled, g)
        result, sets_result = _noetl_code_result(g, args, code)
        main_ran = "__noetl_main__" in g or g.get("__noetl_main_called__")
        if result is None and "__noetl_main__" in g:
            result = g["__noetl_main__"]
            if inspect.iscoroutine(result):
                import asyncio
                result = asyncio.run(result)
        elif result is None and callable(g.get("main")) and not main_ran:
            result = _noetl_call_main(g["main"], args, g)
    except SystemExit as e:
        # A script that ends with sys.exit(0) after setting result succeeded with it;
        # any other exit is the process's own.
        result, sets_result = _noetl_code_result(g, args, code)
        if e.code not in (None, 0) or result is None:
            raise
    except BaseException:
        # BaseException: a KeyboardInterrupt or GeneratorExit the code raised would
        # otherwise reach the interpreter, which prints the wrapper's frames too.
        import traceback
        etype, value, tb = sys.exc_info()
        # The step's error shows the step's frames, not the wrapper's.
        while tb is not None and tb.tb_frame.f_code.co_filename != "<step>":
            tb = tb.tb_next
        traceback.print_exception(etype, value, tb)
        sys.stderr.flush()
        if issubclass(etype, KeyboardInterrupt):
            # As the interpreter ends on one: killed by SIGINT (exit code 130).
            import os
            import signal
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        sys.exit(1)
    if result is None and not sets_result and not callable(g.get("main")):
        names = _noetl_only_functions(code)
        if names:
            print("noetl: the code defines %s but no main() and sets no result: name the entry "
                  "main, set result, or return at the top level" % ", ".join(names), file=sys.stderr)
            sys.exit(1)
    try:
        text = json.dumps(_noetl_jsonable(result), default=str, allow_nan=False)
    except (TypeError, ValueError) as e:
        print("noetl: the step's result is not JSON: %s" % e, file=sys.stderr)
        sys.exit(1)
    except RecursionError:
        # A list or dict that holds itself: the wrapper's own frames, thousands of them,
        # told the step nothing.
        print("noetl: the step's result is not JSON: it contains itself, or nests too deep", file=sys.stderr)
        sys.exit(1)
    sys.stdout.flush()
    # The result goes to a file of its own: on stdout it shared the output's bound and
    # anything the code printed.
    with open(call["result_file"], "w", encoding="utf-8") as f:
        f.write(text)


_noetl_run()
