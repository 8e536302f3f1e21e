"""The unit tests' fixtures. Nothing here needs root, a namespace or a container: parsers, the
spec model, the Dockerfile, options, formats and views from data run as any user
(`python -m pytest tests/unit`). What needs the real kernel is in tests/host/."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def schema():
    """validate(schema file name, obj) -> the schema's error messages (none: valid)."""
    from tests.support.oci_schema import schema_validator
    return schema_validator()
