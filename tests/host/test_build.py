"""`bocker build` end to end: real RUN steps in engine containers, layers written by COPY, ADD
and WORKDIR, the image config and its history, the cache, errors, .dockerignore, the CLI.

The images are checked by their files (the merged view of their layers) and their config;
buildah's builds of the same Dockerfiles are compared in test_build_peers.py."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from bocker_magics.errors import BockerError, BuildStepFailed, ContextError
from tests.support.build_helpers import SIX_STEPS, image_files, make_context, read
from tests.support.session import bocker


def build(engine, ctx: Path, tag: str | None = None, **kw):
    kw.setdefault("network", "none")
    return engine.build(ctx, [tag] if tag else [], **kw)


@pytest.fixture
def six(tmp_path):
    return make_context(tmp_path / "ctx", SIX_STEPS, {"a.txt": "a\n", "b.txt": "b\n"})


def state_now(engine) -> dict[str, set[str]]:
    root = engine.store.root
    return {d: set(os.listdir(root / d)) for d in ("containers", "images", "tmp")}


def test_six_steps_make_four_layers_a_config_and_a_history(engine, busybox, six):
    base = engine.image("busybox")
    r = build(engine, six, "built-six:1")
    img = r.image
    assert img.names == ["built-six:1"] and img.layers[:1] == base.layers
    assert len(img.layers) == 5, "RUN, COPY, RUN, COPY each make a layer; CMD none"
    assert [s.keyword for s in r.steps] == ["FROM", "RUN", "COPY", "RUN", "COPY", "CMD"]
    assert [bool(s.layer) for s in r.steps] == [False, True, True, True, True, False]
    assert not any(s.cached for s in r.steps[1:])
    assert img.config["Cmd"] == ["cat", "/two"]
    assert read(engine.store, img.layers, "/two") == b"a\none\n"
    # the OCI history: one entry per step, empty_layer for the config-only one; its non-empty
    # entries are one per layer (what buildah and registries check)
    history = img.history
    assert [h["created_by"] for h in history[1:]] == [
        "RUN /bin/sh -c echo one > /one", "COPY a.txt /a.txt", "RUN /bin/sh -c cat /a.txt /one > /two",
        "COPY b.txt /b.txt", 'CMD ["cat", "/two"]']
    assert [h.get("empty_layer", False) for h in history] == [False] * 5 + [True]
    # the image runs: its CMD, its files
    out = engine.run(img.id, None, network="none")
    assert out.exit_code == 0 and out.text == "a\none\n"
    engine.rm(out.id)


def test_each_layer_holds_only_its_step_s_change(engine, busybox, six):
    r = build(engine, six)
    layer_files = lambda d: sorted(str(p.relative_to(engine.store.layer_dir(d))) for p in
                                   engine.store.layer_dir(d).rglob("*"))
    by_step = {s.number: layer_files(s.layer) for s in r.steps if s.layer}
    assert by_step == {2: ["one"], 3: ["a.txt"], 4: ["two"], 5: ["b.txt"]}, \
        "no /proc, /etc/hosts or other mount points of the RUN containers in the layers"


def test_a_rebuild_comes_from_the_cache_and_is_the_same_image(engine, busybox, six):
    first = build(engine, six, "cached-six:1")
    again = build(engine, six, "cached-six:1")
    assert all(s.cached for s in again.steps)
    assert again.image.id == first.image.id, "a fully cached build makes no second copy"
    output = []
    build(engine, six, on_output=lambda chunk, stream: output.append(chunk.decode()))
    assert "".join(output).count(" ---> Using cache") == 5


def test_a_changed_copied_file_rebuilds_from_its_step_only(engine, busybox, six):
    first = build(engine, six)
    (six / "b.txt").write_text("b, changed\n")
    second = build(engine, six)
    assert [s.cached for s in second.steps[1:]] == [True, True, True, False, False]
    assert second.image.layers[:4] == first.image.layers[:4] and second.image.layers[4] != first.image.layers[4]
    (six / "a.txt").write_text("a, changed\n")
    third = build(engine, six)
    assert [s.cached for s in third.steps[1:]] == [True, False, False, False, False], \
        "a change of the first COPY'd file rebuilds the RUN after it too"
    assert read(engine.store, third.image.layers, "/two") == b"a, changed\none\n"
    # a mode change counts as a change, a touch (same content and mode) does not
    os.utime(six / "a.txt", (1, 1))
    assert all(s.cached for s in build(engine, six).steps)
    os.chmod(six / "a.txt", 0o600)
    assert not build(engine, six).steps[2].cached


def test_no_cache_runs_every_step_and_build_args_key_the_run_steps(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nARG WHO=world\nRUN echo hello $WHO > /greeting\n")
    a = build(engine, ctx)
    assert [s.cached for s in build(engine, ctx, no_cache=True).steps[1:]] == [False, False]
    b = build(engine, ctx, build_args={"WHO": "you"})
    assert not b.steps[2].cached
    assert read(engine.store, b.image.layers, "/greeting") == b"hello you\n"
    assert read(engine.store, a.image.layers, "/greeting") == b"hello world\n"
    assert "WHO" not in json.dumps(b.image.config), "an ARG is not in the image"


def test_env_arg_and_the_config_instructions(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, """FROM busybox
ARG VERSION=1.0
ENV APP_VERSION=$VERSION APP_HOME=/srv/app
LABEL org.example.version=$VERSION "with space"="yes"
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGQUIT
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost:8080
ONBUILD RUN echo triggered > /tmp/triggered
USER nobody
ENTRYPOINT ["/bin/echo"]
CMD echo $APP_HOME
""")
    r = build(engine, ctx, build_args={"VERSION": "2.5"})
    c = r.image.config
    assert c["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_VERSION=2.5",
                        "APP_HOME=/srv/app"]
    assert c["Labels"] == {"org.example.version": "2.5", "with space": "yes"}
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}} and c["StopSignal"] == "SIGQUIT" and c["User"] == "nobody"
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost:8080"], "Interval": 5_000_000_000,
                                "Retries": 2}
    assert c["OnBuild"] == ["RUN echo triggered > /tmp/triggered"]
    assert c["Entrypoint"] == ["/bin/echo"] and c["Cmd"] == ["/bin/sh", "-ec", "echo $APP_HOME"]
    assert len(r.image.layers) == 1, "config-only steps make no layer"
    # the ONBUILD trigger runs in a build FROM it, and leaves that image's config
    child = make_context(tmp_path / "child", "FROM onbuild-base\nRUN test -f /tmp/triggered\n")
    engine.images_store.tag(r.image, ["onbuild-base"])
    r2 = build(engine, child)
    assert read(engine.store, r2.image.layers, "/tmp/triggered") == b"triggered\n"
    assert "OnBuild" not in r2.image.config


def test_entrypoint_resets_an_inherited_cmd(engine, busybox, tmp_path):
    r = build(engine, make_context(tmp_path, 'FROM busybox\nENTRYPOINT ["echo"]\n'))
    assert r.image.config.get("Cmd") is None and r.image.config["Entrypoint"] == ["echo"]
    r = build(engine, make_context(tmp_path, 'FROM busybox\nCMD ["x"]\nENTRYPOINT ["echo"]\n'))
    assert r.image.config["Cmd"] == ["x"]


def test_user_and_workdir(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, """FROM busybox
RUN echo 'app:x:1000:1500::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1500:' >> /etc/group && \\
    echo 'extra:x:2000:app' >> /etc/group
WORKDIR /srv
USER app
WORKDIR data/sub
RUN id > ids && touch mine
USER 1234:2000
RUN id -u > /tmp/numeric
""")
    r = build(engine, ctx)
    files = image_files(engine.store, r.image.layers)
    assert files["/srv"].uid == 0, "WORKDIR made by root"
    assert (files["/srv/data"].uid, files["/srv/data"].gid) == (1000, 1500), "... then by the USER of the moment"
    assert (files["/srv/data/sub/mine"].uid, files["/srv/data/sub/mine"].gid) == (1000, 1500)
    ids = read(engine.store, r.image.layers, "/srv/data/sub/ids").decode()
    assert ids == "uid=1000(app) gid=1500(app) groups=1500(app),2000(extra)\n"
    assert read(engine.store, r.image.layers, "/tmp/numeric") == b"1234\n"
    assert r.image.config["WorkingDir"] == "/srv/data/sub" and r.image.config["User"] == "1234:2000"


def test_copy_chown_chmod_dirs_globs_and_links(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, """FROM busybox
RUN echo 'app:x:1000:1500::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1500:' >> /etc/group
COPY --chown=app:grp d /opt/d/
COPY --chown=1000 *.txt /opt/texts/
COPY --chmod=0600 d/f /opt/f-private
COPY --chmod=u=rwX,go=rX d /opt/symbolic
COPY link /opt/followed
COPY <<EOF /opt/inline.conf
inline ${HOME:-none}
EOF
""", {"d/f": ("f\n", 0o640), "d/sub/g": ("g\n", 0o755), "a.txt": "a\n", "b.txt": "b\n"})
    os.symlink("a.txt", ctx / "link")
    os.symlink("../f", ctx / "d" / "sub" / "up")
    r = build(engine, ctx)
    f = image_files(engine.store, r.image.layers)
    assert (f["/opt/d"].uid, f["/opt/d"].gid, f["/opt/d"].mode) == (1000, 1500, 0o755)
    assert (f["/opt/d/f"].uid, f["/opt/d/f"].gid, f["/opt/d/f"].mode) == (1000, 1500, 0o640)
    assert f["/opt/d/sub/up"].type == "symlink" and f["/opt/d/sub/up"].link == "../f"
    assert (f["/opt/texts/a.txt"].uid, f["/opt/texts/a.txt"].gid) == (1000, 1000), "--chown=UID: GID = UID"
    assert "/opt/texts/b.txt" in f
    assert f["/opt/f-private"].mode == 0o600 and f["/opt/f-private"].uid == 0
    assert f["/opt/symbolic/f"].mode == 0o644 and f["/opt/symbolic/sub/g"].mode == 0o755
    assert f["/opt"].uid == 1000, "a directory the image lacks is made for the --chown user"
    assert f["/opt/followed"].type == "file", "a source that is a symlink is copied as its target"
    assert read(engine.store, r.image.layers, "/opt/inline.conf") == b"inline none\n"


def test_copy_into_an_existing_directory_keeps_its_metadata(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nCOPY x /tmp/\nCOPY x /etc/x\n", {"x": "x\n"})
    r = build(engine, ctx)
    f = image_files(engine.store, r.image.layers)
    base = image_files(engine.store, engine.image("busybox").layers)
    assert f["/tmp"] == base["/tmp"] and f["/tmp"].mode == 0o1777, "copied up, not remade"
    assert f["/etc"] == base["/etc"]


def test_add_unpacks_a_local_tar_and_refuses_a_url(engine, busybox, tmp_path):
    def tar(path: Path, mode: str):
        with tarfile.open(path, mode) as t:
            for name, data in (("top/file", b"in the tar\n"),):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid, info.gid = len(data), 0o640, 7, 8
                t.addfile(info, io.BytesIO(data))
    ctx = make_context(tmp_path, "FROM busybox\nADD plain.tar /x/\nADD packed.tgz /y\nADD notatar.txt /z/\n",
                       {"notatar.txt": "just text\n"})
    tar(ctx / "plain.tar", "w")
    tar(ctx / "packed.tgz", "w:gz")
    r = build(engine, ctx)
    f = image_files(engine.store, r.image.layers)
    assert (f["/x/top/file"].uid, f["/x/top/file"].gid, f["/x/top/file"].mode) == (7, 8, 0o640)
    assert read(engine.store, r.image.layers, "/y/top/file") == b"in the tar\n"
    assert read(engine.store, r.image.layers, "/z/notatar.txt") == b"just text\n"
    for url in ("https://example.com/x.tar", "http://127.0.0.1/x"):
        with pytest.raises(ContextError, match="URL is refused"):
            build(engine, make_context(tmp_path / "u", f"FROM busybox\nADD {url} /x\n"))


def test_a_deleted_file_stays_deleted(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nRUN rm /etc/group && rm -r /home && mkdir /home && "
                                 "touch /home/new\n")
    r = build(engine, ctx)
    top = engine.store.layer_dir(r.image.layers[-1])
    assert stat.S_ISCHR(os.lstat(top / "etc" / "group").st_mode), "a whiteout in the layer"
    assert os.getxattr(top / "home", "trusted.overlay.opaque") == b"y"
    f = image_files(engine.store, r.image.layers)
    assert "/etc/group" not in f and "/etc/passwd" in f and "/home/new" in f
    out = engine.run(r.image.id, "ls /etc/group /home", network="none")
    assert "No such file" in out.text and "new" in out.text
    engine.rm(out.id)


def test_multi_stage_copy_from_and_target(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, """FROM busybox AS build
RUN mkdir /out && echo built > /out/app && chown 5:6 /out/app && chmod 750 /out/app
FROM busybox AS unused
RUN echo never > /never
FROM busybox
COPY --from=build /out/app /usr/local/bin/app
COPY --from=0 /out /copied
COPY --from=busybox /etc/passwd /passwd.copy
""")
    r = build(engine, ctx)
    assert "/never" not in " ".join(s.instruction for s in r.steps), "a stage no one needs does not run"
    f = image_files(engine.store, r.image.layers)
    assert (f["/usr/local/bin/app"].uid, f["/usr/local/bin/app"].gid, f["/usr/local/bin/app"].mode) == (5, 6, 0o750)
    assert "/copied/app" in f and "/passwd.copy" in f
    assert all(s.cached for s in build(engine, ctx).steps), "COPY --from is cached by its files' digest too"
    only = build(engine, ctx, target="build")
    assert [s.stage for s in only.steps] == ["build", "build"]
    assert read(engine.store, only.image.layers, "/out/app") == b"built\n"


def test_dockerignore(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nCOPY . /ctx/\n",
                       {".dockerignore": "*.log\nsecret/\n!keep.log\n", "app.py": "print(1)\n", "debug.log": "x\n",
                        "keep.log": "kept\n", "secret/key": "k\n"})
    r = build(engine, ctx)
    f = image_files(engine.store, r.image.layers)
    assert {"/ctx/app.py", "/ctx/keep.log", "/ctx/Dockerfile", "/ctx/.dockerignore"} <= set(f)
    assert "/ctx/debug.log" not in f and "/ctx/secret" not in f
    with pytest.raises(ContextError, match="excluded from the build context by"):
        build(engine, make_context(tmp_path, "FROM busybox\nCOPY secret/key /k\n"))
    (ctx / "debug.log").write_text("changed, but ignored\n")
    assert all(s.cached for s in build(engine, make_context(tmp_path, "FROM busybox\nCOPY . /ctx/\n")).steps), \
        "an ignored file is not part of the digest"


def test_a_failing_run_stops_the_build_with_its_status_and_leaves_nothing(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nRUN echo made > /first\nRUN echo to-stdout; echo to-stderr >&2; "
                                 "exit 7\nRUN echo never\n")
    before = state_now(engine)
    seen: list[tuple[str, str]] = []
    with pytest.raises(BuildStepFailed) as e:
        build(engine, ctx, "never-made", on_output=lambda chunk, stream: seen.append((stream, chunk.decode())))
    assert e.value.exit_code == 7
    assert str(e.value) == "Dockerfile:3: RUN echo to-stdout; echo to-stderr >&2; exit 7: the command returned " \
                           "exit status 7"
    assert ("stdout", "to-stdout\n") in seen and ("stderr", "to-stderr\n") in seen
    assert state_now(engine) == before, "no container, no image, no scratch dir left"
    assert engine.images_store.find("never-made") is None
    # the step that finished is in the cache: the next try starts after it
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo made > /first\nRUN true\n")
    assert build(engine, ctx).steps[1].cached


def test_a_program_that_is_not_there(engine, busybox, tmp_path):
    before = state_now(engine)
    with pytest.raises(BuildStepFailed) as e:
        build(engine, make_context(tmp_path, 'FROM busybox\nRUN ["/no/such/program"]\n'))
    assert e.value.exit_code == 127 and str(e.value).startswith("Dockerfile:2: RUN [")
    assert state_now(engine) == before


@pytest.mark.parametrize("dockerfile, error", [
    ("FROM busybox\nRUNN echo\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
    ("FROM busybox\nCOPY ../outside /x\n", "Dockerfile:2: ../outside: outside the build context"),
    ("FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2: missing.txt: no such file or directory"),
    ("FROM busybox\nCOPY a b /notadir\n", "with more than one source the destination must be a directory"),
    ("FROM busybox\nCOPY --chown=nosuchuser a /a\n", "no user named 'nosuchuser' in the image's /etc/passwd"),
    ("FROM busybox\nUSER ghost\nRUN true\n", "Dockerfile:3: RUN true: Unable to find user 'ghost'"),
    ("FROM busybox\nRUN --mount=type=cache,target=/c true\n", "RUN --mount isn't supported"),
    # (a registry on a loopback port where nothing listens: a pull that fails at once, offline)
    ("FROM 127.0.0.1:9/no-such-image\n", "FROM 127.0.0.1:9/no-such-image: the image isn't here and can't be pulled"),
    ("FROM busybox\nWORKDIR /etc/passwd\n", "WORKDIR /etc/passwd: it is a file in the image"),
])
def test_mistakes_are_one_line_and_leave_nothing(engine, busybox, tmp_path, dockerfile, error):
    ctx = make_context(tmp_path, dockerfile, {"a": "a\n", "b": "b\n"})
    before = state_now(engine)
    with pytest.raises(BockerError) as e:
        build(engine, ctx)
    assert error in str(e.value) and "\n" not in str(e.value)
    assert state_now(engine) == before


def test_outside_the_context_through_a_symlink_is_refused(engine, busybox, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nCOPY escape /x\n")
    (tmp_path / "secret").write_text("host secret\n")
    os.symlink(tmp_path / "secret", ctx / "escape")
    with pytest.raises(ContextError, match="leads out of the build context"):
        build(engine, ctx)


def test_the_default_network_reaches_the_bridge_and_none_has_only_lo(engine, busybox, tmp_path):
    ctx = make_context(tmp_path, "FROM busybox\nRUN ls /sys/class/net > /nets\n")
    bridged = engine.build(ctx, [], no_cache=True)
    assert read(engine.store, bridged.image.layers, "/nets").split() == [b"eth0", b"lo"]
    isolated = engine.build(ctx, [], no_cache=True, network="none")
    assert read(engine.store, isolated.image.layers, "/nets").split() == [b"lo"]


def test_save_writes_the_history_and_load_keeps_it(engine, busybox, six, tmp_path):
    r = build(engine, six, "history-six:1")
    engine.save("history-six:1", tmp_path / "six.tar")
    with tarfile.open(tmp_path / "six.tar") as t:
        manifest = json.loads(t.extractfile("manifest.json").read())
        config = json.loads(t.extractfile(manifest[0]["Config"]).read())
    assert config["history"] == r.image.history
    assert config["config"]["Cmd"] == ["cat", "/two"]
    assert sum(not h.get("empty_layer") for h in config["history"]) == len(config["rootfs"]["diff_ids"])
    engine.rmi("history-six:1")
    [loaded] = engine.load(tmp_path / "six.tar")
    assert loaded.history == r.image.history


def test_cli_build(busybox, tmp_path, six):
    r = bocker("build", "-t", "cli-six:1", "--network", "none", str(six), check=True, timeout=120)
    assert "Step 2/6 : RUN echo one > /one" in r.stdout and "Successfully tagged cli-six:1" in r.stdout
    q = bocker("build", "-q", "-t", "cli-six:1", "--network", "none", str(six), check=True)
    assert q.stdout.strip().startswith("img_") and "\n" not in q.stdout.strip()
    failing = bocker("build", "--network", "none", "-f", "-", str(six), input="FROM busybox\nRUN exit 3\n")
    assert failing.returncode == 3 and failing.stderr.strip().splitlines()[-1] == \
        "-:2: RUN exit 3: the command returned exit status 3"
    bad = bocker("build", "-f", "-", str(six), input="FROM busybox\nXYZZY bar\n")
    assert bad.returncode == 1 and bad.stderr == "-:2: unknown instruction: XYZZY\n"
    usage = bocker("build")
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1


# -- the cached rebuild that reads no Dockerfile (build/record.py) -------------------------------
def _records(engine) -> Path:
    return engine.store.build_cache.parent / "records"


def test_a_cached_rebuild_says_and_makes_what_the_full_build_does(engine, busybox, six):
    build(engine, six, "record-six:1")
    fast_log: list[bytes] = []
    fast = build(engine, six, "record-six:1", on_output=lambda chunk, stream: fast_log.append(chunk))
    import shutil
    shutil.rmtree(_records(engine))               # no record: the full build, all from the cache
    full_log: list[bytes] = []
    full = build(engine, six, "record-six:1", on_output=lambda chunk, stream: full_log.append(chunk))
    assert b"".join(fast_log) == b"".join(full_log)
    assert fast.image.id == full.image.id
    assert [s.to_json() | {"seconds": 0} for s in fast.steps] == [s.to_json() | {"seconds": 0} for s in full.steps]


def test_a_cached_rebuild_imports_no_parser(busybox, six):
    build_cmd = ("import sys; from bocker_magics.cli import main; main(['build', '-q', '--network', 'none', "
                 f"{str(six)!r}]); print(sorted(m for m in sys.modules if m.startswith('bocker_magics.engine.build.')))")
    import subprocess
    import sys
    first = subprocess.run([sys.executable, "-c", build_cmd], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", build_cmd], capture_output=True, text=True, check=True)
    loaded = again.stdout.strip().splitlines()[-1]
    assert "instructions" not in loaded and "dockerfile" not in loaded and "builder" not in loaded, loaded
    assert first.stdout.splitlines()[0] == again.stdout.splitlines()[0], "the same image"


def test_a_record_that_no_longer_holds_runs_the_full_build(engine, busybox, tmp_path):
    base = engine.image("busybox")
    other = build(engine, make_context(tmp_path / "other", "FROM busybox\nRUN echo other > /other\n")).image
    engine.images_store.tag(base, ["record-base:1"])
    ctx = make_context(tmp_path / "ctx", "FROM record-base:1\nRUN echo x > /x\nCOPY f /f\n", {"f": "f\n"})
    first = build(engine, ctx)
    # the base image is another one now: every step again (a new parent)
    engine.images_store.tag(other, ["record-base:1"])
    moved = build(engine, ctx)
    assert [s.cached for s in moved.steps[1:]] == [False, False] and moved.image.layers[:2] == other.layers
    engine.images_store.tag(base, ["record-base:1"])
    assert all(s.cached for s in build(engine, ctx).steps)
    # the image was untagged, and made again by another build: the record's image is gone
    # from the store's names but its layers stay, so the steps come from the cache
    kept = engine.images_store.create_named(first.image.layers, "a copy", ["record-copy:1"], first.image.config)
    engine.rmi(first.image.id)
    again = build(engine, ctx)
    assert all(s.cached for s in again.steps) and again.image.id != first.image.id
    assert again.image.layers == first.image.layers
    # its layers are gone (their last image removed): the steps run again
    engine.rmi(again.image.id)
    engine.rmi(kept.id)
    rerun = build(engine, ctx)
    assert [s.cached for s in rerun.steps[1:]] == [False, False]
    engine.images_store.tag(other, ["record-base:1"])  # busybox leaves with its own name only


def test_a_pushed_build_shows_its_history_in_skopeo_and_is_a_pull_away(engine, busybox, six, tmp_path):
    import shutil
    import subprocess

    from tests.support.registry_fixtures import Registry, missing_tools
    if missing_tools():
        pytest.skip(f"needs {missing_tools()}")
    reg = Registry(tmp_path / "registry")
    try:
        r = build(engine, six, "pushed-six:1")
        ref = f"{reg.host}/lab/six:1"
        engine.push("pushed-six:1", ref)
        shown = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{ref}"],
                                          capture_output=True, text=True, check=True).stdout)
        assert [h["created_by"] for h in shown["history"]] == [h["created_by"] for h in r.image.history]
        assert [h.get("empty_layer", False) for h in shown["history"]] == [False] * 5 + [True]
        assert shown["config"]["Cmd"] == ["cat", "/two"]
        # and a pull of it is the same image again (its history kept)
        pulled = engine.pull(ref)
        assert pulled.history == r.image.history and pulled.config["Cmd"] == ["cat", "/two"]
        # a FROM of the registry image builds on it; --pull checks the registry again
        child = make_context(tmp_path / "child", f"FROM {ref}\nRUN cat /two > /copy\n")
        got = build(engine, child, pull=True)
        assert read(engine.store, got.image.layers, "/copy") == b"a\none\n"
        engine.rmi(pulled.id)
    finally:
        reg.stop()
        shutil.rmtree(tmp_path / "registry", ignore_errors=True)
