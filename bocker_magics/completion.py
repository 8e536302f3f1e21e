"""Tab completion for `%bocker` and `%%bocker` (an IPython Matcher, API v2).

    %bocker <Tab>              the verbs
    %bocker run --<Tab>        the verb's options (from the same parsers as the magic: commands.py)
    %bocker logs <Tab>         container names and ids (running ones where the verb needs that)
    %bocker run <Tab>          image names and ids; `--network <Tab>` network names
    %bocker network <Tab>      ls, inspect, create, rm, connect, disconnect

What exists is read each time through the engine's listing calls (state files only: no
container starts, no registry, no netlink), so it is right after any change and costs about
a millisecond. Where it offers something it suppresses IPython's other matchers (Python names
and files mean nothing there); where it does not (a file argument, the container's command),
they complete as usual.

JupyterLab merges a second provider into every menu, its context completer, which offers the
editor's own tokens that start with the word at the cursor (after a space: all of them), so
`%bocker logs ` + Tab ended with `%`, `bocker`, `logs`: those are not the kernel's. The kernel's
reply (this matcher's candidates, what ipykernel's do_complete sends) holds only ours
(tests/host/test_magics.py). The package's JupyterLab extension (labextension/src/index.js) makes
the context completer not applicable where `complete` answers (its `_MAGIC` test, mirrored there:
change both together), so the menu is the kernel's; tests/host/test_browser_face.py checks the
menu, test_browser.py (no extension) is the control.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# verbs that act on a running container: only those are offered after them
RUNNING_ONLY = {"exec", "top", "ns", "stop", "kill", "stats", "pause", "port"}
# (verb, positional) -> what it names; the rest go by the positional's name (KINDS)
BY_VERB = {("rm", "refs"): "container|image", ("inspect", "ref"): "container|image",
           ("diff", "ref"): "container|image", ("rmi", "refs"): "image", ("pull", "ref"): "image",
           ("push", "ref"): None, ("commit", "image"): None, ("network", "name"): "network",
           ("build", "context"): "directory", ("tag", "source"): "image", ("tag", "target"): None,
           ("rename", "new_name"): None, ("history", "image"): "image"}
KINDS = {"container": "container", "containers": "container", "refs": "container", "image": "image"}
# options whose value names something that exists
OPTION_VALUES = {"--network": "network", "--net": "network"}
SIGNALS = ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"]
NETWORK_MODES = ["bridge", "none", "host"]
_MAGIC = re.compile(r"(?:^|[\s=(])(%%?bocker)(\s.*)?$")


@dataclass
class Candidate:
    text: str
    type: str  # verb | option | container | image | network | value


class BockerCompleter:
    """A matcher over the shell's %bocker magics. `lister` is what reads the engine (made on
    first use, so loading the extension costs nothing)."""

    IDENTIFIER = "bocker_magics.completion"
    PRIORITY = 100  # before IPython's own matchers: ours suppress them where they answer

    def __init__(self, engine: Callable[[], Any], verbs: Callable[[], list[str]],
                 parser: Callable[[str], argparse.ArgumentParser]) -> None:
        self.engine = engine
        self.verbs = verbs
        self.parser = parser

    # -- the IPython side ------------------------------------------------------------------
    def matcher(self) -> Callable[[Any], dict[str, Any]]:
        """The function for `IPCompleter.custom_matchers` (Matcher API v2)."""
        from IPython.core.completer import context_matcher

        @context_matcher(priority=self.PRIORITY, identifier=self.IDENTIFIER)
        def bocker_matcher(context: Any) -> dict[str, Any]:
            return self(context)

        bocker_matcher.bocker_completer = self  # how unload finds it
        return bocker_matcher

    def __call__(self, context: Any) -> dict[str, Any]:
        from IPython.core.completer import SimpleCompletion

        found = self.complete(context.text_until_cursor, first_line=context.cursor_line == 0)
        if found is None:
            return {"completions": [], "suppress": False}
        fragment, candidates = found
        return {"completions": [SimpleCompletion(c.text, type=c.type) for c in candidates],
                "matched_fragment": fragment, "suppress": bool(candidates), "ordered": True}

    # -- what to offer ---------------------------------------------------------------------
    def complete(self, before: str, first_line: bool = True) -> tuple[str, list[Candidate]] | None:
        """(the fragment being completed, what may replace it), or None when the cursor is
        not in a %bocker line's arguments."""
        m = _MAGIC.search(before)
        if m is None or m.group(2) is None:
            return None  # not ours, or `%bocker` itself (IPython completes magic names)
        if m.group(1) == "%%bocker" and (not first_line or m.start(1) != 0):
            return None  # a cell magic's arguments are its first line; the rest is the script
        rest = m.group(2)
        fragment = "" if rest[-1].isspace() else rest.split()[-1]
        words = _split(rest[: len(rest) - len(fragment)])
        if not words:
            return fragment, _starting(fragment, [Candidate(v, "verb") for v in self.verbs()])
        verb = words[0]
        if verb not in self.verbs() or verb == "help":
            return fragment, []
        try:
            parser = self.parser(verb)
        except Exception:
            return fragment, []
        return self._arguments(verb, parser, words[1:], fragment)

    def _arguments(self, verb: str, parser: argparse.ArgumentParser, words: list[str],
                   fragment: str) -> tuple[str, list[Candidate]]:
        options = {s: a for a in parser._actions for s in a.option_strings}
        positionals = [a for a in parser._actions if not a.option_strings]
        # where the words before the cursor leave us: the option waiting for a value, or
        # the index of the next positional
        index, used, expecting = 0, set(), None
        for word in words:
            if expecting is not None:
                expecting = None
                continue
            if _in_remainder(positionals, index):
                return fragment, []  # the container's command: not ours to complete
            if word.startswith("-") and word != "-":
                action = options.get(word.split("=", 1)[0])
                if action is not None:
                    used.add(action.dest)
                    if action.nargs != 0 and "=" not in word:
                        expecting = action
                continue
            index += 1
        if expecting is not None:
            return fragment, _starting(fragment, self._values(verb, expecting))
        if _in_remainder(positionals, index):
            return fragment, []
        if fragment.startswith("-"):
            if "=" in fragment:  # --network=<Tab>
                name, _, value = fragment.partition("=")
                action = options.get(name)
                return value, _starting(value, self._values(verb, action) if action else [])
            offered = [s for a in parser._actions
                       if a.option_strings and not isinstance(a, argparse._HelpAction)  # `%bocker VERB?` is help
                       and (a.dest not in used or _repeatable(a))
                       for s in a.option_strings]
            return fragment, _starting(fragment, [Candidate(s, "option") for s in offered])
        action = _positional_at(positionals, index)
        if action is None:
            return fragment, []
        kind = BY_VERB.get((verb, action.dest), KINDS.get(action.dest))
        if verb == "network" and words[:1] == ["create"]:
            kind = None  # a new network's name: nothing that exists
        if action.choices:
            return fragment, _starting(fragment, [Candidate(str(c), "value") for c in action.choices])
        if kind is None:
            return fragment, []
        if kind == "directory":
            return fragment, _directories(fragment)
        return fragment, _starting(fragment, self._things(kind, running_only=verb in RUNNING_ONLY))

    def _values(self, verb: str, action: argparse.Action) -> list[Candidate]:
        if action.choices:
            return [Candidate(str(c), "value") for c in action.choices]
        names = set(action.option_strings)
        if names & OPTION_VALUES.keys():
            return [Candidate(m, "network") for m in NETWORK_MODES] + self._things("network")
        if names & {"-s", "--signal"}:
            return [Candidate(s, "value") for s in SIGNALS]
        if verb == "build" and names & {"-t", "--tag"}:
            return [c for c in self._things("image") if not c.text.startswith("img_")]  # rebuild as a name
        return []

    def _things(self, kinds: str, running_only: bool = False) -> list[Candidate]:
        """Names, then ids, of what exists now: containers, images, networks."""
        try:
            engine = self.engine()
        except Exception:
            return []  # no engine here (not root, no state dir): nothing to offer
        out: list[Candidate] = []
        for kind in kinds.split("|"):
            try:
                out += _LISTERS[kind](engine, running_only)
            except Exception:
                continue  # a listing that fails (state being written) offers nothing
        return out


def _containers(engine: Any, running_only: bool) -> list[Candidate]:
    found = [c for c in engine.ps() if c.running or not running_only]
    return [Candidate(c.name, "container") for c in found if c.name] + [Candidate(c.id, "container") for c in found]


def _images(engine: Any, running_only: bool) -> list[Candidate]:
    found = engine.images()
    return [Candidate(n, "image") for i in found for n in i.names] + [Candidate(i.id, "image") for i in found]


def _networks(engine: Any, running_only: bool) -> list[Candidate]:
    return [Candidate(n, "network") for n in network_names(engine) if n not in NETWORK_MODES]


def network_names(engine: Any) -> list[str]:
    """The networks' names, from their records alone. `Engine.network_ls` also asks netlink
    and iptables about each (hundreds of ms); a cheap `network_names()` of the engine is used
    where it has one."""
    cheap = getattr(engine, "network_names", None)
    if cheap is not None:
        return list(cheap())
    return [n.name for n in engine.networks.list()]


_LISTERS = {"container": _containers, "image": _images, "network": _networks}


def _directories(fragment: str) -> list[Candidate]:
    """`%bocker build <Tab>`: directories (a build's context) starting with the fragment."""
    import os
    base, _, prefix = fragment.rpartition("/")
    where = base or ("/" if fragment.startswith("/") else ".")
    try:
        names = sorted(os.listdir(os.path.expanduser(where)))
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(prefix) and (prefix.startswith(".") or not name.startswith(".")):
            path = f"{base}/{name}" if base or fragment.startswith("/") else name
            if os.path.isdir(os.path.expanduser(path)):
                out.append(Candidate(path + "/", "value"))
    return out


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an open quote: the words as typed
        return text.split()


def _starting(fragment: str, candidates: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in candidates:
        if c.text.startswith(fragment) and c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def _repeatable(action: argparse.Action) -> bool:
    return isinstance(action, argparse._AppendAction)


def _positional_at(positionals: list[argparse.Action], index: int) -> argparse.Action | None:
    """The positional a word at `index` fills (a '*' or '+' one takes every word after it)."""
    i = 0
    for action in positionals:
        if action.nargs in ("*", "+", argparse.REMAINDER):
            return action
        if i == index:
            return action
        i += 1
    return None


def _in_remainder(positionals: list[argparse.Action], index: int) -> bool:
    action = _positional_at(positionals, index)
    return action is not None and action.nargs == argparse.REMAINDER
