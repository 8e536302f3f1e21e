"""OCI hooks: run each with the container's state on stdin, where and when the spec says.

    prestart, createRuntime   the runtime's namespaces, after the namespaces are made and
                              before pivot_root (bocker-runc's create runs them while pid 1 waits)
    createContainer           the container's namespaces, before pivot_root (pid 1 runs them)
    startContainer            the container's namespaces, after `start`, before the exec (pid 1)
    poststart                 the runtime's namespaces, once the program runs (`start`)
    poststop                  the runtime's namespaces, when the container is deleted (`delete`)

A hook that fails (or overruns its timeout) fails prestart, createRuntime, createContainer and
startContainer; a failing poststart or poststop hook is only a warning (runtime.md's rules).

Stdlib only: pid 1 and bocker-runc's light verbs (start, delete) import this; subprocess is
imported on the first hook that runs.
"""

from __future__ import annotations

from ...errors import HookError


class HookCall:
    """One hook, from a spec's Hook or from its JSON (path, args, env, timeout)."""

    __slots__ = ("path", "args", "env", "timeout")

    def __init__(self, path: str, args=(), env=(), timeout: int | None = None) -> None:
        self.path, self.args, self.env, self.timeout = path, list(args or []), list(env or []), timeout

    @classmethod
    def from_json(cls, obj: dict) -> HookCall:
        return cls(obj["path"], obj.get("args"), obj.get("env"), obj.get("timeout"))


def run_hooks(hooks, state_json: str, phase: str) -> None:
    """Run each hook (path, args, env, timeout) with the container's OCI state on stdin; a
    hook that fails or overruns its timeout raises HookError naming it."""
    if not hooks:
        return
    import subprocess  # pid 1 imports it before pivot_root when the spec has hooks
    for hook in hooks:
        try:
            result = subprocess.run(hook.args or [hook.path],
                                    executable=hook.path, input=state_json.encode(),
                                    env=dict(e.split("=", 1) for e in hook.env if "=" in e),
                                    capture_output=True, timeout=hook.timeout or None)
        except subprocess.TimeoutExpired:
            raise HookError(f"The {phase} hook {hook.path} ran past its timeout of {hook.timeout}s") from None
        except OSError as e:
            raise HookError(f"The {phase} hook {hook.path} could not run: {e.strerror}") from None
        if result.returncode != 0:
            err = result.stderr.decode(errors="replace").strip().splitlines()
            raise HookError(f"The {phase} hook {hook.path} failed with status {result.returncode}"
                            + (f": {err[-1]}" if err else ""))
