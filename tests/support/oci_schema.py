"""The OCI runtime spec's own JSON schemas (Debian's golang-github-opencontainers-specs-dev),
for tests that check our config.json and state.json against them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

SCHEMA_PACKAGE = "golang-github-opencontainers-specs-dev"


def _schema_dir() -> Path | None:
    known = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")
    if (known / "config-schema.json").exists():
        return known
    try:
        listed = subprocess.run(["dpkg", "-L", SCHEMA_PACKAGE], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return None
    for line in listed.splitlines():
        if line.endswith("runtime-spec/schema") and Path(line, "config-schema.json").exists():
            return Path(line)
    return None


def schema_validator():
    """validate(name, obj) -> the schema's error messages (none: valid)."""
    directory = _schema_dir()
    if directory is None:
        pytest.skip(f"the runtime-spec JSON schema is absent: apt-get install {SCHEMA_PACKAGE}")
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    # the schema files $ref each other by file name ("defs.json#/definitions/...")
    registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
        for p in directory.glob("*.json")
    )
    validators = {}

    def validate(name: str, obj: dict) -> list[str]:
        if name not in validators:
            validators[name] = jsonschema.Draft4Validator(
                json.loads((directory / name).read_text()), registry=registry)
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validators[name].iter_errors(obj)]

    return validate
