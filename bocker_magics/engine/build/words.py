"""The words of one Dockerfile instruction: its leading --flags (checked against what the
instruction accepts), its JSON (exec) form, its shell-form words. Quotes and `$VAR`s stay as
they are: substitution is the builder's (lexer.py)."""

from __future__ import annotations

import difflib
import json
import re

WHITESPACE = re.compile(r"[\t\v\f\r ]+")


class Fail(Exception):
    """A parse mistake in the instruction being read; the parser adds the location."""



class Flags:
    """The --flags of one instruction, checked against what it accepts (BuildKit's BFlags)."""

    def __init__(self, raw: tuple[str, ...]) -> None:
        self.raw = raw

    def parse(self, spec: dict[str, str]) -> dict:
        values: dict[str, object] = {}
        for arg in self.raw:
            if arg == "--":
                break
            if not arg.startswith("--"):
                raise Fail(f"arg should start with -- : {arg}")
            name, eq, value = arg[2:].partition("=")
            kind = spec.get(name)
            if kind is None:
                hint = difflib.get_close_matches(name, spec, n=1)
                raise Fail(f"unknown flag: --{name}" + (f" (did you mean --{hint[0]}?)" if hint else ""))
            if name in values and kind != "strings":
                raise Fail(f"duplicate flag specified: --{name}")
            if kind == "bool":
                if eq and not value:
                    raise Fail(f"missing a value on flag: --{name}")
                if value.lower() in ("", "true"):
                    values[name] = True
                elif value.lower() == "false":
                    values[name] = False
                else:
                    raise Fail(f"expecting boolean value for flag --{name}, not: {value}")
            elif not eq:
                raise Fail(f"missing a value on flag: --{name}")
            elif kind == "string":
                values[name] = value
            else:
                values.setdefault(name, []).append(value)  # type: ignore[union-attr]
        return values


def json_array(rest: str) -> list[str] | None:
    """The exec form's JSON string array, or None when `rest` isn't a JSON array at all (then
    it is the shell form, as in Docker). A JSON array of anything but strings is an error."""
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Fail("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """The leading --flag words of an instruction's arguments (quotes and escapes removed) and
    the rest of the line; `--` ends the flags."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                word = "".join(buf)
                phase = "space"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
                pos += 1
                continue
        elif ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == n:
                if phase == "quote":
                    phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """ENV/LABEL/ARG words: split at unquoted whitespace, quotes and escapes kept (they are
    removed when the builder substitutes)."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch.isspace():
                phase = "space"
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
            elif ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
        else:
            if ch == quote:
                phase = "word"
            elif ch == escape and quote != "'":
                if pos + 1 == n:
                    phase = "word"
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words
