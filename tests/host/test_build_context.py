"""The build context's content digest over files of other owners (chown: root). The rest of the
build context: tests/unit/test_build_context.py."""

from __future__ import annotations

import os

from tests.support.build_helpers import digest_of, tree


def test_digest_is_stable_and_independent_of_where_and_how_the_tree_was_made(tmp_path):
    a = tree(tmp_path / "a", {"x/1": "one", "x/2": "two", "y": "why", "l": "->x/1"})
    b = tree(tmp_path / "b", {"y": "why", "l": "->x/1", "x/2": "two", "x/1": "one"})
    for p in ("a", "b"):
        os.chmod(tmp_path / p, 0o755)
        os.chmod(tmp_path / p / "x", 0o755)
    d = digest_of(a)
    assert d.startswith("sha256:") and len(d) == 71
    assert digest_of(a) == d == digest_of(b)
    os.utime(a / "y", (1, 1))                                 # a timestamp isn't content
    assert digest_of(a) == d
    os.chown(a / "y", 1234, 1234)                             # context files are copied as root
    assert digest_of(a) == d
    assert digest_of(a, owners=True) != digest_of(b, owners=True)
