"""bocker build against a real builder: the same Dockerfiles built by buildah (Debian's 1.28,
tests/support/peers.py's sandbox: its own storage, runc, --isolation chroot) give images with the same
files (paths, types, modes, owners, contents, link targets) and the same config (Env, Cmd,
Entrypoint, WorkingDir, User, ExposedPorts, Labels, StopSignal).

Both start from one busybox image: `bocker save` of the built-in one, pulled by buildah with
`buildah pull docker-archive:` and loaded by bocker (`bocker load`, into a root of this
module's own). buildah's result is pushed to a docker-archive and loaded into that root too,
so both images are read by the same code (build_helpers.image_files).

What buildah adds of its own and the comparison leaves out, each for a stated reason:
- /run: buildah's chroot isolation makes it as a mount point for its RUN steps and keeps it
  in the step's layer (the base image has no /run);
- the label io.buildah.version.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from bocker_magics.errors import BuildStepFailed
from tests.support import peers
from tests.support.build_helpers import image_files, make_context, read
from tests.support.session import CGROUP_PARENT, SESSION_ROOT

BUILDAH_ONLY_PATHS = ("/run",)
BUILDAH_ONLY_LABELS = ("io.buildah.version",)
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Labels", "StopSignal")

USERS = "RUN echo 'app:x:1000:1500::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1500:' >> /etc/group && \\\n" \
        "    echo 'extra:x:2000:app' >> /etc/group\n"

CASES = {
    "single": ("""FROM busybox
RUN echo one > /one
COPY a.txt /a.txt
RUN cat /a.txt /one > /two
COPY b.txt /b.txt
CMD ["cat", "/two"]
""", {}),
    "multi-stage": ("""FROM busybox AS build
RUN mkdir -p /out/lib && echo built > /out/app && chmod 750 /out/app && chown 5:6 /out/app && \\
    ln -s ../app /out/lib/link
FROM busybox AS other
RUN echo other > /other
FROM busybox
COPY --from=build /out /opt/out
COPY --from=other /other /other
ENTRYPOINT ["/opt/out/app"]
""", {}),
    # WORKDIR makes its directory at once (Docker's rule; buildah makes it at the next RUN):
    # each WORKDIR here is followed by a RUN, so both make it, as the USER of the moment
    "user-workdir": ("FROM busybox\n" + USERS + """WORKDIR /
USER app
WORKDIR /srv/data
RUN id > ids && touch mine && mkdir sub
USER 1234:2000
WORKDIR /tmp/numeric
RUN touch here
""", {}),
    "env-arg": ("""FROM busybox
ARG VERSION=1.0
ARG UNUSED
ENV APP_VERSION=$VERSION APP_HOME=/srv/app
ENV LEGACY form with spaces
LABEL org.example.version=$VERSION "with space"="yes"
EXPOSE 8080 53/udp
STOPSIGNAL SIGQUIT
WORKDIR $APP_HOME
RUN echo "$VERSION $APP_VERSION $APP_HOME" > /versions
CMD echo $APP_HOME
""", {}),
    "copy-chown": ("FROM busybox\n" + USERS + """COPY --chown=app:grp dir /opt/dir
COPY --chown=1000:2000 a.txt b.txt /opt/files/
COPY --chown=app:extra link /opt/link-target
COPY --chown=app a.txt /opt/name-only
COPY --chown=1000 b.txt /opt/uid-only
COPY dir /plain/
COPY *.txt /globbed/
""", {"dir/f": ("f\n", 0o640), "dir/sub/x": ("x\n", 0o755), "dir/empty/": None}),
    "add-tar": ("""FROM busybox
ADD files.tar /unpacked/
ADD files.tar.gz /unpacked-gz
ADD a.txt /added/
""", {}),
    "deletion": ("""FROM busybox
RUN mkdir -p /data/keep /data/gone && echo k > /data/keep/k && echo g > /data/gone/g
RUN rm -r /data/gone /etc/group && rm /bin/vi
RUN rm -r /data && mkdir /data && echo fresh > /data/only
""", {}),
}


def _tar(path: Path, mode: str) -> None:
    with tarfile.open(path, mode) as t:
        for name, data, kind in (("top", None, tarfile.DIRTYPE), ("top/file", b"in the tar\n", tarfile.REGTYPE),
                                 ("top/link", None, tarfile.SYMTYPE), ("exec", b"#!/bin/sh\n", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.uid, info.gid, info.mtime = kind, 7, 8, 1_700_000_000
            info.mode = 0o750 if kind == tarfile.DIRTYPE else 0o755 if name == "exec" else 0o640
            if kind == tarfile.SYMTYPE:
                info.linkname = "file"
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)


def context_for(case: str, root: Path) -> Path:
    dockerfile, files = CASES[case]
    ctx = make_context(root, dockerfile, {"a.txt": ("a\n", 0o600), "b.txt": "b\n",
                                          **{k: v for k, v in files.items() if v is not None},
                                          **{k: "" for k, v in files.items() if v is None}})
    if case == "copy-chown":
        os.symlink("a.txt", ctx / "link")
        os.symlink("../f", ctx / "dir" / "sub" / "up")
    if case == "add-tar":
        _tar(ctx / "files.tar", "w")
        _tar(ctx / "files.tar.gz", "w:gz")
    return ctx


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("build-peers")


@pytest.fixture(scope="module")
def peer_engine(work):
    """An engine on a root of this module's own, with the shared busybox loaded."""
    from bocker_magics.engine.engine import Engine
    root = SESSION_ROOT / "build-peers-root"
    e = Engine(root, cgroup_parent=CGROUP_PARENT)
    yield e
    e.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def busybox_tar(work):
    return peers.busybox_tarball(work / "busybox.tar", work)


@pytest.fixture(scope="module")
def buildah(work, busybox_tar, peer_engine):
    try:
        b = peers.Buildah(work / "buildah").__enter__()
    except peers.PeerUnavailable as e:
        pytest.skip(str(e))
    try:
        b.load(busybox_tar)    # no with_history(): bocker save writes the history buildah needs
        [base] = peer_engine.load(busybox_tar)
        assert base.names == ["busybox:latest"]
        yield b
    finally:
        assert b.close() == [], "buildah left nothing behind"


def buildah_image(b: peers.Buildah, engine, ctx: Path, name: str, work: Path):
    """`buildah bud`, then its image as bocker reads it (pushed to a docker-archive, loaded)."""
    b.buildah("bud", "--layers", "--pull-never", "-t", name, str(ctx), timeout=300)
    archive = work / f"{name}.tar"
    b.buildah("push", name, f"docker-archive:{archive}:{name}:latest")
    [img] = engine.load(archive)
    archive.unlink()
    return img


def comparable_files(engine, image) -> dict:
    files = image_files(engine.store, image.layers)
    return {p: f for p, f in files.items()
            if not any(p == x or p.startswith(x + "/") for x in BUILDAH_ONLY_PATHS)}


def comparable_config(config: dict) -> dict:
    out = {k: config.get(k) or None for k in CONFIG_KEYS}
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if k not in BUILDAH_ONLY_LABELS}
    out["Labels"] = labels or None
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_bocker_and_buildah_build_the_same_image(case, work, peer_engine, buildah):
    ctx = context_for(case, work / f"ctx-{case}")
    ours = peer_engine.build(ctx, [f"ours-{case}"], network="none").image
    theirs = buildah_image(buildah, peer_engine, ctx, f"theirs-{case}", work)
    mine, other = comparable_files(peer_engine, ours), comparable_files(peer_engine, theirs)
    only_ours = {p: mine[p] for p in sorted(set(mine) - set(other))}
    only_theirs = {p: other[p] for p in sorted(set(other) - set(mine))}
    different = {p: (mine[p], other[p]) for p in sorted(set(mine) & set(other)) if mine[p] != other[p]}
    texts = {p: (read(peer_engine.store, ours.layers, p), read(peer_engine.store, theirs.layers, p))
             for p, (a, b) in different.items() if a.digest and b.digest}
    assert (only_ours, only_theirs, different) == ({}, {}, {}), texts
    assert comparable_config(ours.config) == comparable_config(theirs.config)
    assert len(ours.history) == len([h for h in theirs.history]), "one history entry per instruction, as buildah"


def test_a_failing_run_fails_both_with_its_status(work, peer_engine, buildah):
    ctx = make_context(work / "ctx-failing", "FROM busybox\nRUN echo before\nRUN echo failing; exit 42\n")
    with pytest.raises(BuildStepFailed) as e:
        peer_engine.build(ctx, ["ours-failing"], network="none")
    assert e.value.exit_code == 42 and peer_engine.images_store.find("ours-failing") is None
    r = buildah.buildah("bud", "--layers", "--pull-never", "-t", "theirs-failing", str(ctx), check=False)
    assert r.returncode != 0 and "exit status 42" in r.stderr
    assert buildah.buildah("images", "-q", "theirs-failing", check=False).returncode != 0
