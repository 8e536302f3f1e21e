"""Variables in a compose file: `.env` files and `${VAR}` interpolation, as the Compose
Specification defines them (`${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`; a
default may hold further variables)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...errors import InvalidArgument

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(InvalidArgument):
    """A variable a file requires (`${VAR:?message}`) is unset, or a `$` form is invalid."""


def parse_env_file(text: str, source: str) -> dict[str, str]:
    """KEY=VALUE lines (Compose's and Docker's `.env`): `#` comments, blank lines, an optional
    `export `, values in single quotes as they are, in double quotes with \\n escapes."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not _NAME.fullmatch(key):
            raise InvalidArgument(f"{source}:{number}: '{raw.strip()}' is not KEY=VALUE")
        if not sep:
            continue  # a bare KEY: nothing to set here
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        else:
            value = re.sub(r"\s+#.*$", "", value)  # an inline comment after a space
        values[key] = value
    return values


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` that closes the `${` whose body starts at `start`."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(text: str, env: Mapping[str, str], where: str = "") -> str:
    """`text` with every variable replaced from `env`; `where` names the place for an error."""
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1: dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _closing_brace(text, dollar + 2)
            if end < 0:
                raise InterpolationError(f"{where}invalid interpolation format for '{text}': a '${{' with no '}}'")
            out.append(_expand(text[dollar + 2:end], env, where, text))
            i = end + 1
        elif m := _NAME.match(text, dollar + 1):
            out.append(env.get(m.group(0), ""))
            i = m.end()
        else:
            out.append("$")  # a lone `$` (before a space, a digit, the end) is itself
            i = dollar + 1
    return "".join(out)


def _expand(body: str, env: Mapping[str, str], where: str, whole: str) -> str:
    m = _NAME.match(body)
    if not m:
        raise InterpolationError(f"{where}invalid interpolation format for '{whole}': "
                                 f"'${{{body}}}' does not start with a variable name")
    name, rest = m.group(0), body[m.end():]
    if not rest:
        return env.get(name, "")
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f"{where}invalid interpolation format for '{whole}': "
                                 f"unknown operator in '${{{body}}}' (use :-, -, :?, ?, :+ or +)")
    word = rest[len(operator):]
    value = env.get(name)
    set_and_nonempty = bool(value)
    is_set = value is not None
    if operator in (":-", "-"):
        usable = set_and_nonempty if operator == ":-" else is_set
        return value if usable else interpolate(word, env, where)  # type: ignore[return-value]
    if operator in (":?", "?"):
        usable = set_and_nonempty if operator == ":?" else is_set
        if not usable:
            message = interpolate(word, env, where) or "it must be set"
            raise InterpolationError(f"{where}required variable {name} is missing a value: {message}")
        return value  # type: ignore[return-value]
    usable = set_and_nonempty if operator == ":+" else is_set  # :+ and +
    return interpolate(word, env, where) if usable else ""
