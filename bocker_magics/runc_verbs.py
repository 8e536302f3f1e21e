"""bocker-runc's verbs (runc.py parses the command line and looks them up here): each verb's
flags (flag -> (option, kind)), its positional words, and the function that calls the
runtime (engine/runtime/oci/) and prints what runc prints; the checks of their arguments in
runc's words (Usage, check_args, sizes, durations). Imports stay few, as runc.py's."""

from __future__ import annotations

import sys

# flag -> (option name, kind): "flag" (a boolean), "value", "list" (repeatable), "int"
_CREATE = {
    "bundle": ("bundle", "value"), "b": ("bundle", "value"), "pid-file": ("pid_file", "value"),
    "console-socket": ("console_socket", "value"), "no-pivot": ("no_pivot", "flag"),
    "no-new-keyring": ("no_new_keyring", "flag"), "preserve-fds": ("preserve_fds", "int"),
}
_EXEC = {
    "process": ("process", "value"), "p": ("process", "value"), "detach": ("detach", "flag"),
    "d": ("detach", "flag"), "pid-file": ("pid_file", "value"), "console-socket": ("console_socket", "value"),
    "tty": ("tty", "flag"), "t": ("tty", "flag"), "cwd": ("cwd", "value"), "env": ("env", "list"),
    "e": ("env", "list"), "user": ("user", "value"), "u": ("user", "value"), "cap": ("cap", "list"),
    "c": ("cap", "list"), "no-new-privs": ("no_new_privs", "flag"), "preserve-fds": ("preserve_fds", "int"),
    "process-label": ("process_label", "value"), "apparmor": ("apparmor", "value"),
    "ignore-paused": ("ignore_paused", "flag"),
}
_FORMAT = {"format": ("format", "value"), "f": ("format", "value")}
_UPDATE = {
    "resources": ("resources", "value"), "r": ("resources", "value"), "memory": ("memory", "value"),
    "memory-swap": ("memory_swap", "value"), "cpu-shares": ("cpu_shares", "int"), "cpu-quota": ("cpu_quota", "int"),
    "cpu-period": ("cpu_period", "int"), "pids-limit": ("pids_limit", "int"),
}


class Usage(Exception):
    """A command line that does not parse: one line, exit 1 (runc's; 3 for a command it does
    not know, as urfave/cli's "No help topic")."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def check_args(verb: str, args: list[str], exactly: int | None = None, least: int | None = None,
               most: int | None = None) -> None:
    """runc's checkArgs, in its words (the program's name as it was called, as os.Args[0])."""
    for bound, wrong, words in ((exactly, lambda n, b: n != b, "exactly"), (least, lambda n, b: n < b, "a minimum of"),
                                (most, lambda n, b: n > b, "a maximum of")):
        if bound is not None and wrong(len(args), bound):
            raise Usage(f'{sys.argv[0]}: "{verb}" requires {words} {bound} argument(s)')


def _one_id(verb: str, args: list[str], most: int = 1) -> str:
    if most == 1:
        check_args(verb, args, exactly=1)
    else:
        check_args(verb, args, least=1, most=most)
    return args[0]


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _size(flag: str, text: str | None) -> int | None:
    """--memory 64m, 1g, 67108864 (engine.units.parse_size), or -1: no limit, as runc update."""
    if text is None:
        return None
    if text.strip() == "-1":
        return -1
    from .engine.units import parse_size
    try:
        return parse_size(text)
    except ValueError:
        raise Usage(f"invalid value for {flag}: invalid size: '{text}'") from None  # runc's (go-units') words


# -- the verbs: each parses what its flags left and calls the runtime; 0 is success ---------------
def _create(rt, opts: dict, args: list[str]) -> int:
    rt.create(_one_id("create", args), opts.get("bundle"), pid_file=opts.get("pid_file"),
              console_socket=opts.get("console_socket"), no_pivot=opts.get("no_pivot", False),
              no_new_keyring=opts.get("no_new_keyring", False), preserve_fds=opts.get("preserve_fds", 0))
    return 0


def _run(rt, opts: dict, args: list[str]) -> int:
    return rt.run(_one_id("run", args), opts.get("bundle"), detach=opts.get("detach", False),
                  pid_file=opts.get("pid_file"), console_socket=opts.get("console_socket"),
                  no_pivot=opts.get("no_pivot", False), no_new_keyring=opts.get("no_new_keyring", False),
                  preserve_fds=opts.get("preserve_fds", 0), keep=opts.get("keep", False))


def _start(rt, opts: dict, args: list[str]) -> int:
    rt.start(_one_id("start", args))
    return 0


def _state(rt, opts: dict, args: list[str]) -> int:
    from . import _cjson  # json's loads and dumps, without json's imports (re, enum)
    _out(_cjson.dumps(rt.state(_one_id("state", args)), indent=2))
    return 0


def _kill(rt, opts: dict, args: list[str]) -> int:
    cid = _one_id("kill", args, most=2)
    rt.kill(cid, args[1] if len(args) > 1 else "SIGTERM", all=opts.get("all", False))
    return 0


def _delete(rt, opts: dict, args: list[str]) -> int:
    rt.delete(_one_id("delete", args), force=opts.get("force", False))
    return 0


def _exec(rt, opts: dict, args: list[str]) -> int:
    check_args("exec", args, least=1)
    cid, command = args[0], args[1:]
    paused = opts.get("ignore_paused", False)
    if opts.get("process"):
        from .engine.runtime.oci import go_strerror
        from .errors import BockerError
        rt.check_exec(rt.load(cid), paused)  # runc's order: the container, then the process
        path = opts["process"]
        try:
            with open(path, "rb") as f:
                process = f.read()
        except OSError as e:
            raise BockerError(f"open {path}: {go_strerror(e)}") from None
    else:
        process = rt.exec_process(cid, command, tty=opts.get("tty", False), cwd=opts.get("cwd"),
                                  env=opts.get("env", []), user=opts.get("user"), caps=opts.get("cap", []),
                                  no_new_privs=opts.get("no_new_privs", False), ignore_paused=paused)
    return rt.exec(cid, process, detach=opts.get("detach", False), pid_file=opts.get("pid_file"),
                   console_socket=opts.get("console_socket"), preserve_fds=opts.get("preserve_fds", 0),
                   ignore_paused=paused)


def _ps(rt, opts: dict, args: list[str]) -> int:
    from . import _cjson
    check_args("ps", args, least=1)
    pids = rt.pids(args[0])
    fmt = opts.get("format", "table")
    if fmt == "json":
        _out(_cjson.dumps(pids))
        return 0
    if fmt != "table":
        raise Usage("invalid format option")
    _out(ps_table(pids, args[1:] or ["-ef"]))
    return 0


def _pause(rt, opts: dict, args: list[str]) -> int:
    rt.pause(_one_id("pause", args))
    return 0


def _resume(rt, opts: dict, args: list[str]) -> int:
    rt.resume(_one_id("resume", args))
    return 0


def _list(rt, opts: dict, args: list[str]) -> int:
    check_args("list", args, exactly=0)
    from . import _cjson
    states = rt.list()
    fmt = opts.get("format", "table")
    if opts.get("quiet"):
        if states:
            _out("\n".join(s["id"] for s in states))
    elif fmt == "json":
        _out(_cjson.dumps(states))
    elif fmt == "table":
        _out(list_table(states))
    else:
        raise Usage("invalid format option")
    return 0


def _spec(rt, opts: dict, args: list[str]) -> int:
    check_args("spec", args, exactly=0)
    from .engine.runtime.oci import bundle
    if opts.get("rootless"):
        raise Usage("bocker-runc has no rootless mode: run `bocker-runc spec` as root")
    bundle.write_default_spec(opts.get("bundle"))
    return 0


# update's flags -> where they go in the spec's linux.resources
_UPDATE_FIELDS = {"cpu_shares": ("cpu", "shares"), "cpu_quota": ("cpu", "quota"), "cpu_period": ("cpu", "period"),
                  "pids_limit": ("pids", "limit")}


def _update(rt, opts: dict, args: list[str]) -> int:
    from . import _cjson
    cid = _one_id("update", args)
    rt.load(cid)  # runc's order: the container first, then the values
    resources: dict = {}
    if opts.get("resources"):
        src = opts["resources"]
        text = sys.stdin.read() if src == "-" else open(src).read()
        try:
            resources = _cjson.loads(text)
        except ValueError as e:
            raise Usage(f"the resources in {src} are not JSON: {e}") from None
    memory, swap = _size("memory", opts.get("memory")), _size("memory-swap", opts.get("memory_swap"))
    if memory is not None:
        resources.setdefault("memory", {})["limit"] = memory
    if swap is not None:
        resources.setdefault("memory", {})["swap"] = swap
    for flag, (group, key) in _UPDATE_FIELDS.items():
        if flag in opts:
            resources.setdefault(group, {})[key] = opts[flag]
    rt.update(cid, resources)
    return 0


def _events(rt, opts: dict, args: list[str]) -> int:
    """runc events: the container's accounting as {"type": "stats", "id", "data"} lines, once
    with --stats, else every --interval until it stops."""
    import time

    from . import _cjson
    from .errors import Conflict
    cid = _one_id("events", args)
    interval = _duration(opts.get("interval", "5s"))
    first = True
    while True:
        stats = rt.stats(cid)
        if stats is None:
            if first:
                raise Conflict(f"container with id {cid} is not running")
            return 0
        _out(_cjson.dumps({"type": "stats", "id": cid, "data": stats}))
        if opts.get("stats"):
            return 0
        first = False
        time.sleep(interval)


def _duration(text: str) -> float:
    """A Go duration as runc's --interval takes it: 5s, 500ms, 1m."""
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * scale
            except ValueError:
                break
    raise Usage(f'invalid value "{text}" for flag -interval: parse error')


def _features(rt, opts: dict, args: list[str]) -> int:
    check_args("features", args, exactly=0)
    from . import _cjson
    from .engine.runtime.oci import bundle
    _out(_cjson.dumps(bundle.features(), indent=4))
    return 0


class Verb:
    """One of runc's verbs: its flags (flag -> (option, kind)), its positional arguments as
    the usage line spells them, the function that runs it, and whether its positional words
    end the flags (exec's and ps's command and ps arguments follow the ID)."""

    __slots__ = ("flags", "positional", "run", "command_follows")

    def __init__(self, flags: dict, positional: str, run, command_follows: bool = False) -> None:
        self.flags, self.positional, self.run, self.command_follows = flags, positional, run, command_follows


VERBS: dict[str, Verb] = {
    "create": Verb(_CREATE, "ID", _create),
    "run": Verb({**_CREATE, "detach": ("detach", "flag"), "d": ("detach", "flag"), "keep": ("keep", "flag")},
                "ID", _run),
    "start": Verb({}, "ID", _start),
    "state": Verb({}, "ID", _state),
    "kill": Verb({"all": ("all", "flag"), "a": ("all", "flag")}, "ID [SIGNAL]", _kill),
    "delete": Verb({"force": ("force", "flag"), "f": ("force", "flag")}, "ID", _delete),
    "exec": Verb(_EXEC, "ID [COMMAND [ARGS...]]", _exec, command_follows=True),
    "ps": Verb(_FORMAT, "ID [PS-ARGS...]", _ps, command_follows=True),
    "pause": Verb({}, "ID", _pause),
    "resume": Verb({}, "ID", _resume),
    "list": Verb({**_FORMAT, "quiet": ("quiet", "flag"), "q": ("quiet", "flag")}, "", _list),
    "spec": Verb({"bundle": ("bundle", "value"), "b": ("bundle", "value"), "rootless": ("rootless", "flag")}, "",
                 _spec),
    "update": Verb(_UPDATE, "ID", _update),
    "features": Verb({}, "", _features),
    "events": Verb({"stats": ("stats", "flag"), "interval": ("interval", "value")}, "ID", _events),
}


def run_verb(rt, verb: str, opts: dict, args: list[str]) -> int:
    """Call the runtime for one verb and print what runc prints."""
    return VERBS[verb].run(rt, opts, args)


def ps_table(pids: list[int], ps_args: list[str]) -> str:
    """`ps PS-ARGS` limited to the container's processes (its header kept), as runc ps does."""
    import subprocess
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False).stdout.splitlines()
    if not out:
        return ""
    header = out[0].split()
    try:
        column = header.index("PID")
    except ValueError:
        raise Usage(f"ps {' '.join(ps_args)} prints no PID column: give other ps arguments") from None
    wanted = {str(p) for p in pids}
    return "\n".join([out[0]] + [line for line in out[1:]
                                 if len(line.split()) > column and line.split()[column] in wanted])


def list_table(states: list[dict]) -> str:
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s.get("owner") or "root")
             for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)
