# The NoETL python tool's wrapper. It reads the call from stdin as JSON
# ({code, args, variables, execution_id, step, server_url, libs}), runs the step's code
# with upstream's globals, and prints the result as one JSON line after a marker.
import sys
import json


def _noetl_has_top_level_return(code):
    # Unindented, non-comment lines up to the first def/class: a `return` there means
    # the code is a function body.
    for line in code.splitlines():
        if not line or line[0] in " \t":
            continue
        s = line.strip()
        if s.startswith("#"):
            continue
        if s.startswith(("def ", "async def ", "class ", "@")):
            return False
        if s == "return" or s.startswith(("return ", "return(", "return[", "return{", 'return"', "return'")):
            return True
    return False


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


def _noetl_run():
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
    for lib in call.get("libs") or []:
        _noetl_import(g, lib)
    code = call.get("code") or ""
    if _noetl_has_top_level_return(code):
        body = "\n".join("    " + line for line in code.splitlines())
        code = "def __noetl_step__(args, input_data, **kw):\n" + body + "\n    return None\n" + \
            "result = __noetl_step__(args, input_data)\n"
    exec(compile(code, "<step>", "exec"), g)
    result = g.get("result")
    if result is None and callable(g.get("main")):
        result = _noetl_call_main(g["main"], args, g)
    try:
        text = json.dumps(result, default=str, allow_nan=False)
    except (TypeError, ValueError) as e:
        print("noetl: the step's result is not JSON: %s" % e, file=sys.stderr)
        sys.exit(1)
    sys.stdout.flush()
    sys.stdout.write("\n@@__NOETL_RESULT__@@" + text + "\n")
    sys.stdout.flush()


_noetl_run()
