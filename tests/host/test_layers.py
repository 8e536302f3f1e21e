"""Layer tars: extracted exactly into overlay form, and never outside the layer."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from bocker_magics.engine.distribution import layers
from bocker_magics.engine.distribution.layers import LayerError
from bocker_magics.engine.distribution.layerstore import LayerStore
from bocker_magics.engine.store import Store
from tests.support.session import SESSION_ROOT
from tests.support.tars import BLK, CHR, DIR, FIFO, LNK, REG, SYM, tar_bytes


@pytest.fixture
def sandbox(tmp_path: Path):
    """dest: an empty layer dir; outside: a sibling that must stay as it was."""
    (tmp_path / "dest").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret\n")
    return tmp_path


def extract(sandbox: Path, data: bytes) -> Path:
    layers.extract(layers.Decompressed(io.BytesIO(data)), sandbox / "dest")
    return sandbox / "dest"


def outside_untouched(sandbox: Path) -> None:
    assert sorted(os.listdir(sandbox)) == ["dest", "outside"]
    assert os.listdir(sandbox / "outside") == ["secret"]
    assert (sandbox / "outside" / "secret").read_text() == "secret\n"


def test_whiteouts_opaque_markers_modes_owners_devices_links(sandbox):
    dest = extract(sandbox, tar_bytes(
        ("dir", DIR, {"uid": 7, "gid": 8, "mode": 0o750}),
        ("dir/kept", REG, {"data": b"kept\n"}),
        ("dir/.wh..wh..opq", REG),                         # the marker after its sibling
        ("etc/.wh.deleted", REG),                          # parent made implicitly
        ("suid", REG, {"data": b"x", "mode": 0o4755, "uid": 0, "gid": 0}),
        ("sgid", REG, {"data": b"y", "mode": 0o2711, "uid": 1000, "gid": 1000}),
        ("hard", LNK, {"linkname": "suid"}),
        ("abs", SYM, {"linkname": "/etc/passwd"}),
        ("rel", SYM, {"linkname": "../../../outside"}),   # a symlink may point anywhere: never followed
        ("null", CHR, {"devmajor": 1, "devminor": 3, "mode": 0o666}),
        ("loop", BLK, {"devmajor": 7, "devminor": 0}),
        ("fifo", FIFO),
        ("cap", REG, {"data": b"z", "pax": {"SCHILY.xattr.user.note": "hello"}}),
    ))
    assert os.getxattr(dest / "dir", "trusted.overlay.opaque") == b"y"
    assert os.listdir(dest / "dir") == ["kept"]
    st = os.stat(dest / "dir")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (7, 8, 0o750)
    wh = os.lstat(dest / "etc" / "deleted")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert not os.path.lexists(dest / "etc" / ".wh.deleted")
    assert stat.S_IMODE(os.stat(dest / "suid").st_mode) == 0o4755
    sg = os.stat(dest / "sgid")
    assert (stat.S_IMODE(sg.st_mode), sg.st_uid, sg.st_gid) == (0o2711, 1000, 1000)
    assert os.stat(dest / "hard").st_ino == os.stat(dest / "suid").st_ino
    assert os.readlink(dest / "abs") == "/etc/passwd"
    assert os.readlink(dest / "rel") == "../../../outside"
    null = os.lstat(dest / "null")
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    assert stat.S_ISBLK(os.lstat(dest / "loop").st_mode)
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert os.getxattr(dest / "cap", "user.note") == b"hello"
    outside_untouched(sandbox)


def test_layer_dir_back_to_a_tar_and_again_is_the_same(sandbox, tmp_path):
    data = tar_bytes(("d", DIR), ("d/a", REG, {"data": b"a", "mode": 0o4750}), ("d/b", LNK, {"linkname": "d/a"}),
                     ("d/.wh..wh..opq", REG), (".wh.gone", REG), ("s", SYM, {"linkname": "/x"}))
    dest = extract(sandbox, data)
    out = io.BytesIO()
    diff_id, digest, size = layers.write_blob(dest, out)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(gzip.decompress(out.getvalue())))]
    assert names == ["d", "d/.wh..wh..opq", "d/a", "d/b", ".wh.gone", "s"]
    (tmp_path / "again").mkdir()
    layers.extract(layers.Decompressed(io.BytesIO(out.getvalue())), tmp_path / "again")
    out2 = io.BytesIO()
    assert layers.write_blob(tmp_path / "again", out2) == (diff_id, digest, size)   # reproducible
    assert out2.getvalue() == out.getvalue()


BAD = {
    "dotdot": (("../outside/evil", REG, {"data": b"x"}),),
    "dotdot inside": (("a/../../outside/evil", REG),),
    "absolute": (("/outside/evil", REG),),
    "symlinked parent then file": (("l", SYM, {"linkname": "../outside"}), ("l/evil", REG, {"data": b"x"})),
    "symlinked parent, absolute": (("l", SYM, {"linkname": "/tmp"}), ("l/evil", REG)),
    "symlinked dir then whiteout": (("l", SYM, {"linkname": "../outside"}), ("l/.wh.secret", REG)),
    "symlinked dir then opaque": (("l", SYM, {"linkname": "../outside"}), ("l/.wh..wh..opq", REG)),
    "hard link outside": (("h", LNK, {"linkname": "../outside/secret"}),),
    "hard link absolute": (("h", LNK, {"linkname": "/etc/passwd"}),),
    "hard link through a symlink": (("l", SYM, {"linkname": "../outside"}), ("h", LNK, {"linkname": "l/secret"})),
    "hard link to nothing": (("h", LNK, {"linkname": "missing"}),),
    ".wh..": ((".wh..", REG),),
    "bare .wh.": (("d/.wh.", REG),),
    ".wh...": (("d/.wh...", REG),),
    "aufs metadata": ((".wh..wh.plnk", DIR),),
    "duplicate file": (("a", REG, {"data": b"1"}), ("a", REG, {"data": b"2"})),
    "duplicate dir": (("d", DIR), ("d", DIR)),
    "deleted and added": (("a", REG), (".wh.a", REG)),
    "overlay xattr": (("a", REG, {"pax": {"SCHILY.xattr.trusted.overlay.redirect": "/x"}}),),
    "file then dir of the same name": (("a", REG), ("a/b", REG)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_layers_are_refused_and_nothing_lands_outside(sandbox, case):
    with pytest.raises(LayerError) as err:
        extract(sandbox, tar_bytes(*BAD[case]))
    assert "\n" not in str(err.value) and "Layer entry" in str(err.value)
    outside_untouched(sandbox)


def test_truncated_and_garbage_layers(sandbox):
    good = tar_bytes(("a", REG, {"data": b"x" * 5000}))
    with pytest.raises(LayerError, match="truncated|malformed|ends early"):
        extract(sandbox, good[:1500])
    with pytest.raises(LayerError, match="gzip"):
        layers.Decompressed(io.BytesIO(gzip.compress(good)[:-20])).read()
        extract(sandbox, gzip.compress(good)[:-20])


def test_a_bad_layer_leaves_nothing_half_made_in_the_store(tmp_path):
    store = Store(SESSION_ROOT / f"layers-{tmp_path.name}")
    try:
        ls = LayerStore(store)
        bad = tar_bytes(("a", REG, {"data": b"fine"}), ("b", SYM, {"linkname": "/"}), ("b/etc/x", REG))
        with pytest.raises(LayerError):
            ls.add_from_stream(io.BytesIO(gzip.compress(bad)), None)
        assert os.listdir(store.tmp) == [] and os.listdir(store.layers) == []
        good = gzip.compress(tar_bytes(("a", REG, {"data": b"fine"})))
        from bocker_magics.errors import DigestMismatch
        with pytest.raises(DigestMismatch, match="unpacks to a tar with the digest"):
            ls.add_from_stream(io.BytesIO(good), "sha256:" + "0" * 64)
        assert os.listdir(store.tmp) == [] and os.listdir(store.layers) == []
        key = ls.add_from_stream(io.BytesIO(good), None)
        assert (store.layer_dir(key) / "a").read_bytes() == b"fine"
        from bocker_magics.errors import InvalidArgument
        for digest in ("sha256:../x", "sha256:" + "A" * 64, "md5:" + "0" * 32):
            with pytest.raises(InvalidArgument):
                store.layer_dir(digest)
            with pytest.raises(InvalidArgument):
                ls.add_from_stream(io.BytesIO(good), digest)
    finally:
        import shutil
        shutil.rmtree(store.root, ignore_errors=True)
