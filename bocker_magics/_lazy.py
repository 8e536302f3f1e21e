"""A package's public names, loaded on first use (PEP 562): the shim, pid 1 and a cached
rebuild import a package's submodules and must not pay for all of its imports.

    _EXPORTS = {"Engine": "engine", ...}       # name -> the submodule that defines it
    __getattr__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import sys


def lazy_exports(package: str, exports: dict[str, str]):
    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(f"{package}.{module}")  # not importlib's import_module: importlib would load on every start
        value = getattr(sys.modules[f"{package}.{module}"], name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value
    return __getattr__
