"""Dockerfile words: quotes, escapes and variable substitution, as BuildKit's shell lexer does them.

    Lexer().word('"a b"$X', {"X": "1"})       -> 'a b1'
    Lexer().words("$PORTS 443", {"PORTS": "80 8080"}) -> ['80', '8080', '443']

It is not a shell: it knows single and double quotes, the escape character (`\\` or the
`# escape=` one), `$NAME`, `${NAME}` and the modifiers `:-` `-` `:+` `+` `:?` `?` (the
reference's), and BuildKit's newer `#` `##` `%` `%%` `/` `//` pattern forms. Anything else in
`${...}` is refused with a one-line LexError. Substitution happens once, with the values before
the instruction (`ENV a=1 b=$a` sees the old `a`), which is why a builder calls this with its
current ARG/ENV state rather than the parser calling it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

SPECIAL_PARAMS = "@*#?-$!0"   # $@, $#, ... are names of their own (always unset in a build)


class LexError(Exception):
    """A word that can't be processed: an open quote, a bad ${...}; one line."""


@dataclass
class _Words:
    """Splits the processed text into words: whitespace from a substitution splits, quoted
    whitespace does not (ProcessWords)."""
    words: list[str] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
        return self.words


class Lexer:
    """One word processor; `escape` is the Dockerfile's escape character.

    raw_quotes / raw_escapes keep quote and escape characters in the result (the parser uses
    that to find here-document words); skip_unset leaves `$NAME` as written when NAME is unset;
    skip_quotes treats quotes as plain characters (a here-document's body)."""

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset: bool = False, skip_quotes: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.skip_quotes = skip_quotes

    def word(self, text: str, env: Mapping[str, str]) -> str:
        """The word with quotes removed and variables substituted; inner whitespace is kept."""
        return _Scan(self, text, env).run()[0]

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """The text split into words after substitution (EXPOSE, VOLUME-like lists)."""
        return _Scan(self, text, env).run()[1]


class _Scan:
    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lx = lexer
        self.s = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes

    # -- the scanner
    def peek(self) -> str:
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        return self.until("", self.raw_escapes)

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to (and past) `stop`, or to the end when stop is ''."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            out: list[str] = []
            words = _Words()
            while self.peek():
                ch = self.peek()
                if stop and ch == stop:
                    self.next()
                    return "".join(out), words.result()
                if ch == "$":
                    piece = self.dollar()
                    out.append(piece)
                    words.add_text(piece)       # a substituted value splits into words
                elif ch == "<":
                    piece = self.possible_heredoc()
                    out.append(piece)
                    words.add_raw(piece)
                elif ch in "'\"" and not self.lx.skip_quotes:
                    piece = self.single_quoted() if ch == "'" else self.double_quoted()
                    out.append(piece)
                    words.add_raw(piece)
                else:
                    self.next()
                    if ch == self.lx.escape:
                        if self.raw_escapes:
                            words.add_raw(ch)
                            out.append(ch)
                        ch = self.next()
                        if not ch:           # an escape at the very end is dropped
                            break
                        words.add_raw(ch)
                    else:
                        words.add_char(ch)
                    out.append(ch)
            if stop:
                raise LexError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(out), words.result()
        finally:
            self.raw_escapes = saved

    def single_quoted(self) -> str:
        # everything up to the next ' is literal; a ' can't be escaped inside
        opening = self.next()
        out = [opening] if self.lx.raw_quotes else []
        while True:
            ch = self.next()
            if not ch:
                raise LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lx.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        # $ substitutes; the escape character escapes only " $ and itself, else stays literal
        opening = self.next()
        out = [opening] if self.lx.raw_quotes else []
        while True:
            ch = self.peek()
            if not ch:
                raise LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lx.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lx.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.lx.escape):
                    ch = self.next()
            out.append(ch)

    def possible_heredoc(self) -> str:
        # "<<" and the blanks after it stay one word, so "<< EOF" reads as one here-doc word
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        blanks = []
        while self.peek() in ("\t", "\r", " ") and self.peek():
            blanks.append(self.next())
        return "<<" + "".join(blanks)

    def name(self) -> str:
        ch = self.peek()
        if ch and ch.isdigit():
            start = self.pos
            while self.peek() and self.peek().isdigit():
                self.next()
            return self.s[start:self.pos]
        if ch and ch in SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.s[start:self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        self.next()                                   # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lx.skip_unset:
                return "$" + name
            return value
        self.next()                                   # the {
        ch = self.peek()
        if not ch:
            raise LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if not ch:
            raise LexError("syntax error: missing '}'")
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lx.skip_unset:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self.replace(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch not in "+-?#%" or not ch:
            raise LexError(f"unsupported modifier ({modifier}) in substitution")
        pattern_form = ch in "#%"
        if null_is_unset and pattern_form:
            raise LexError(f"unsupported modifier ({modifier}) in substitution")
        word = self.until_brace(pattern_form)
        value, found = self.lookup(name)
        if self.lx.skip_unset and not found:
            return "${" + name + modifier + word + "}"
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(ch)                  # ## and %% take the longest match
        if greedy:
            word = word[1:]
        return _trim_suffix(word, value, greedy) if ch == "%" else _trim_prefix(word, value, greedy)

    def until_brace(self, raw_escapes: bool) -> str:
        try:
            return self.until("}", raw_escapes)[0]
        except LexError:
            if not self.peek():
                raise LexError("syntax error: missing '}'") from None
            raise

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern = self.until("/", True)[0]
        except LexError:
            raise LexError("syntax error: missing '/' in ${}") from None
        replacement = self.until_brace(True)
        value, found = self.lookup(name)
        if self.lx.skip_unset and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _shell_pattern(pattern, greedy=True, anchored=False)
        return regex.sub(lambda _m: replacement, value, count=0 if replace_all else 1)


def _shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A ${VAR#pattern} glob as a regex: ? one character, * any run (shortest unless greedy),
    a backslash makes * ? or itself literal (bracket expressions aren't supported, as in BuildKit)."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue                             # \} and \/ only escaped the ${} syntax
            following = pattern[i] if i < len(pattern) else ""
            i += 1
            if following not in ("*", "?", "\\"):
                raise LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append(re.escape(following))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy=greedy, anchored=True).match(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    # reversed, but an escape stays in front of the character it escapes: a\*c -> c\*a
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i:i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # a regex finds the leftmost match only, so the shortest suffix is found in reverse
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
