"""A YAML file read with the line of each key, so that a mistake names its file, line and key
(`compose.yaml:7: services.web: unknown key 'imagee'`). PyYAML's composer gives the nodes with
their marks; the safe constructor builds the values (anchors, aliases and `<<` merges included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidArgument

Path_ = tuple[str | int, ...]


class ComposeFileError(InvalidArgument):
    """A compose file that can't be used: its file, line and key, and what is wrong."""


@dataclass
class Located:
    """A file's data and the line of every key in it (paths as tuples of keys and indexes)."""

    data: Any
    source: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of `path`, or of the nearest enclosing key that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: Path_, message: str) -> ComposeFileError:
        line = self.line(path)
        place = f"{self.source}:{line}" if line else self.source
        dotted = dotted_path(path)
        return ComposeFileError(f"{place}: {dotted + ': ' if dotted else ''}{message}")


def dotted_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_LOADER = None


def _loader():
    """The safe loader with YAML 1.2's booleans only (true/false), as Compose's own parser reads
    a file: a service named `off` or a value `yes` stays a string."""
    global _LOADER
    if _LOADER is None:
        import re

        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader = type("ComposeLoader", (base,), {})
        loader.yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
            for first, resolvers in base.yaml_implicit_resolvers.items()}
        loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))
        _LOADER = loader
    return _LOADER


def load(text: str, source: str) -> Located:
    import yaml

    try:
        loader = _loader()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return Located({}, source)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ComposeFileError(f"{where}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ComposeFileError(f"{source}: not valid YAML: {e}") from None
    located = Located(data, source)
    _record_lines(node, (), located.lines)
    return located


def _record_lines(node, path: Path_, lines: dict[Path_, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            child = (*path, key_node.value)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _record_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _record_lines(item, child, lines)
