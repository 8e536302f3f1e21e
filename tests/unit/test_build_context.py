"""The build context of `bocker build` (engine/build/context.py, patterns.py): .dockerignore,
the files a COPY takes (wildcards, directories, symlinks, --exclude, --parents), escapes out of
the context refused, and the content digest the build cache keys on.

Pure Python on a temp dir; every test's files go away with tmp_path. (The digest of files of
other owners, which root alone can make: tests/host/test_build_context.py.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bocker_magics.engine.build import (
    BuildContext,
    ContextError,
    Ignore,
    IgnoreMatcher,
    InlineFile,
    PatternError,
    content_digest,
    read_ignore,
    read_ignore_file,
    sources,
)
from bocker_magics.engine.build.patterns import clean, match
from bocker_magics.errors import InvalidArgument
from tests.support.build_helpers import digest_of, tree


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return tree(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\n",
        "README.md": "readme",
        "home.md": "home",
        "hom1.txt": "1",
        "homer.txt": "r",
        "arr[0].txt": "zero",
        "index.js": "js", "index.ts": "ts", "index.css": "css",
        "src/app.py": "print('app')\n",
        "src/lib/util.py": "x = 1\n",
        "src/lib/__pycache__/util.cpython-311.pyc": "pyc",
        "src/notes.txt": "notes",
        "src/link-readme": "->../README.md",
        "docs/a.md": "a", "docs/keep.md": "keep", "docs/sub/b.md": "b",
        "empty": None,
        "link-in": "->src/app.py",
        "dirlink": "->src",
        "link-out": "->/etc/passwd",
        "dirlink-out": "->/etc",
        "dangling": "->nowhere",
    })


def names(srcs) -> list[str]:
    return [s.path for s in srcs]


def entries(src) -> list[str]:
    return [e.path for e in src.entries]


# --- Go's filepath.Match

@pytest.mark.parametrize("pattern,name,expected", [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "abc", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False), ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True),
    ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False),
    ("[\\-x]", "a", False), ("*x", "xxx", True), ("arr[[]0].txt", "arr[0].txt", True), ("index.?s", "index.js", True),
])
def test_go_filepath_match(pattern, name, expected):
    assert match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "a/b["])
def test_go_filepath_match_refuses_malformed_patterns(pattern):
    with pytest.raises(PatternError):
        match(pattern, "a")
    with pytest.raises(PatternError):
        match(pattern, "x")


def test_clean_is_go_s():
    assert [clean(p) for p in ("", "./a/", "a//b", "a/../b", "/../x", "//a", "a/./b/.", "../a")] == \
        [".", "a", "a/b", "b", "/x", "/a", "a/b", "../a"]


# --- .dockerignore

def test_read_ignore_file_cleans_patterns():
    text = "\ufeff# comment\n\n  \n./build/\n/node_modules\n!keep/\n! spaced \na//b/../c\n  # not a comment\r\n*.log\r\n"
    assert read_ignore_file(text) == ["build", "node_modules", "!keep", "!spaced", "a/c", "# not a comment", "*.log"]


@pytest.mark.parametrize("patterns,path,excluded", [
    (["*.md"], "README.md", True), (["*.md"], "docs/a.md", False), (["**/*.md"], "docs/sub/b.md", True),
    (["**/*.md"], "a.md", True), (["docs"], "docs/sub/b.md", True), (["docs/"], "docs/a.md", True),
    (["docs/*"], "docs/sub/b.md", True), (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/a.md", True), (["*.md", "!README.md"], "README.md", False),
    (["!README.md", "*.md"], "README.md", True),           # the last matching line wins
    (["**", "!src"], "src/app.py", False), (["**", "!src", "src/*.pyc"], "src/x.pyc", True),
    (["*/temp*"], "somedir/temporary.txt", True), (["*/temp*"], "somedir/sub/temp", False),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True), (["temp?"], "temp1", True), (["temp?"], "temp12", False),
    (["**/__pycache__"], "src/lib/__pycache__/x.pyc", True), (["src/**"], "src", False),
    (["src/**"], "src/a/b", True), (["a\\*b"], "a*b", True), (["[a-c]x"], "bx", True), (["[^a-c]x"], "bx", False),
    (["dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    (["a(b)c/def"], "a(b)c/def", True), ([".*"], ".git", True), ([".*"], "x", False),
])
def test_ignore_patterns(patterns, path, excluded):
    assert IgnoreMatcher(patterns).matches(path) is excluded
    assert Ignore(tuple(patterns)).excluded(path) is excluded


def test_bad_ignore_patterns_are_one_line_errors(tmp_path):
    with pytest.raises(PatternError, match='illegal exclusion pattern: "!"'):
        IgnoreMatcher(["!"])
    (tmp_path / ".dockerignore").write_text("ok\n[\n")
    with pytest.raises(ContextError, match=r"\.dockerignore: syntax error in pattern"):
        read_ignore(tmp_path)


def test_the_dockerfile_s_own_ignore_file_wins(tmp_path):
    tree(tmp_path, {".dockerignore": "*.md\n", "build/app.Dockerfile": "FROM x\n",
                    "build/app.Dockerfile.dockerignore": "*.txt\n"})
    assert read_ignore(tmp_path).patterns == ("*.md",)
    specific = read_ignore(tmp_path, tmp_path / "build/app.Dockerfile")
    assert specific.patterns == ("*.txt",) and specific.file.endswith("app.Dockerfile.dockerignore")
    assert read_ignore(tmp_path, tmp_path / "Dockerfile").patterns == ("*.md",)
    assert read_ignore(tmp_path / "build").patterns == ()


# --- COPY sources

def test_a_directory_copies_its_contents(ctx):
    [src] = sources(ctx, ["src"])
    assert (src.path, src.type, src.name) == ("src", "dir", "src")
    assert entries(src) == [".", "app.py", "lib", "lib/__pycache__", "lib/__pycache__/util.cpython-311.pyc",
                            "lib/util.py", "link-readme", "notes.txt"]
    link = next(e for e in src.entries if e.path == "link-readme")
    assert (link.type, link.link) == ("symlink", "../README.md")     # kept as a link, not followed
    assert sources(ctx, ["src/"]) == sources(ctx, ["./src"]) == sources(ctx, ["/src"]) == [src]


def test_a_file_source(ctx):
    [src] = sources(ctx, ["src/app.py"])
    assert (src.path, src.type, src.name, entries(src)) == ("src/app.py", "file", "app.py", ["."])
    e = src.entries[0]
    assert e.size == len("print('app')\n") and e.mode == (os.stat(ctx / "src/app.py").st_mode & 0o7777)
    [root] = sources(ctx, ["."])
    assert root.path == "." and "Dockerfile" in entries(root)


@pytest.mark.parametrize("pattern,matched", [
    ("hom*", ["hom1.txt", "home.md", "homer.txt"]),
    ("hom?.txt", ["hom1.txt"]),
    ("index.?s", ["index.js", "index.ts"]),
    ("arr[[]0].txt", ["arr[0].txt"]),
    ("*.md", ["README.md", "home.md"]),                 # * never crosses a /
    ("src/*.py", ["src/app.py"]),
    ("*/*.py", ["src/app.py"]),                          # a symlinked dir isn't searched (as filepath.Walk)
    ("src/*/util.py", ["src/lib/util.py"]),
    ("s*", ["src"]),                                     # a matching directory is taken whole
    ("nothing*", []),                                    # a wildcard may match nothing
    ("docs/[ak]*.md", ["docs/a.md", "docs/keep.md"]),
])
def test_wildcard_sources(ctx, pattern, matched):
    assert names(sources(ctx, [pattern])) == matched


def test_several_sources_keep_their_order(ctx):
    assert names(sources(ctx, ["src/app.py", "hom1.txt", "docs"])) == ["src/app.py", "hom1.txt", "docs"]


def test_a_missing_source_is_one_line(ctx):
    with pytest.raises(ContextError) as e:
        sources(ctx, ["missing.txt"])
    assert isinstance(e.value, InvalidArgument)
    assert str(e.value) == f"missing.txt: no such file or directory in the build context {ctx}"


def test_symlinks_are_followed_inside_the_context(ctx):
    [src] = sources(ctx, ["link-in"])
    assert (src.path, src.type) == ("link-in", "file")
    assert src.entries[0].abspath == str(ctx / "src/app.py")
    [src] = sources(ctx, ["dirlink/lib/util.py"])
    assert src.entries[0].abspath == str(ctx / "src/lib/util.py")
    [src] = sources(ctx, ["dirlink"])
    assert src.type == "dir" and "lib/util.py" in entries(src)


@pytest.mark.parametrize("pattern,message", [
    ("../x", "../x: outside the build context"),
    ("src/../../x", "src/../../x: outside the build context"),
    ("..", "..: outside the build context"),
    ("link-out", "link-out: a symlink that leads out of the build context (to /etc/passwd)"),
    ("dirlink-out", "dirlink-out: a symlink that leads out of the build context (to /etc)"),
    ("dirlink-out/passwd", "dirlink-out/passwd: a symlink that leads out of the build context (to /etc/passwd)"),
    ("link-*", "link-out: a symlink that leads out"),
])
def test_escapes_out_of_the_context_are_refused(ctx, pattern, message):
    with pytest.raises(ContextError) as e:
        sources(ctx, [pattern])
    assert str(e.value).startswith(message) and str(ctx) in str(e.value) and "\n" not in str(e.value)


def test_an_absolute_source_is_the_context_s_never_the_host_s(ctx):
    assert names(sources(ctx, ["/src/app.py"])) == ["src/app.py"]
    with pytest.raises(ContextError, match="no such file or directory in the build context"):
        sources(ctx, ["/etc/passwd"])
    assert names(sources(ctx, ["src/../README.md"])) == ["README.md"]


def test_a_symlink_to_a_file_outside_inside_a_copied_dir_is_just_a_link(tmp_path):
    tree(tmp_path, {"d/out": "->/etc/shadow", "d/x": "x"})
    [src] = sources(tmp_path, ["d"])
    out = next(e for e in src.entries if e.path == "out")
    assert (out.type, out.link, out.size) == ("symlink", "/etc/shadow", 0)


def test_dockerignore_hides_paths_from_copy(ctx):
    ignore = Ignore(("**/__pycache__", "*.txt", "docs", "!docs/keep.md", "src/link-readme"))
    [src] = sources(ctx, ["src"], ignore)
    assert entries(src) == [".", "app.py", "lib", "lib/util.py", "notes.txt"]   # *.txt is only the top
    [docs] = sources(ctx, ["docs"], ignore)
    assert entries(docs) == [".", "keep.md"]
    assert names(sources(ctx, ["hom*"], ignore)) == ["home.md"]
    with pytest.raises(ContextError, match=r"^hom1.txt: excluded from the build context by"):
        sources(ctx, ["hom1.txt"], ignore)
    with pytest.raises(ContextError, match="docs/a.md: excluded"):
        sources(ctx, ["docs/a.md"], ignore)
    assert names(sources(ctx, ["docs/*"], ignore)) == ["docs/keep.md"]


def test_an_ignored_dir_with_an_exception_shows_only_the_exception(tmp_path):
    tree(tmp_path, {"a/b/keep": "k", "a/b/drop": "d", "a/c/drop": "d", "z": "z"})
    [root] = sources(tmp_path, ["."], ["a", "!a/b/keep"])
    assert entries(root) == [".", "a", "a/b", "a/b/keep", "z"]
    assert names(sources(tmp_path, ["*"], ["a", "!a/b/keep"])) == ["a", "z"]


def test_the_dockerfile_and_dockerignore_are_read_even_when_ignored(ctx):
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n*.md\n")
    context = BuildContext(ctx)
    assert context.read_dockerfile() == "FROM busybox\n"
    assert context.ignore.patterns == ("Dockerfile", ".dockerignore", "*.md")
    [root] = context.sources(["."])
    assert not {"Dockerfile", ".dockerignore", "README.md"} & set(entries(root))
    with pytest.raises(ContextError, match="excluded from the build context"):
        context.sources(["Dockerfile"])


def test_build_context_errors(tmp_path):
    with pytest.raises(ContextError, match="is not a directory"):
        BuildContext(tmp_path / "nope")
    with pytest.raises(ContextError, match="no Dockerfile at .*: give one with -f"):
        BuildContext(tmp_path).read_dockerfile()


def test_exclude_flag(ctx):
    assert names(sources(ctx, ["hom*"], excludes=["*.txt"])) == ["home.md"]
    assert names(sources(ctx, ["hom*"], excludes=["*.txt", "*.md"])) == []
    [src] = sources(ctx, ["src"], excludes=["**/*.pyc", "*.txt"])
    assert entries(src) == [".", "app.py", "lib", "lib/__pycache__", "lib/util.py", "link-readme"]
    [src] = sources(ctx, ["src"], excludes=["lib", "!lib/util.py"])
    assert entries(src) == [".", "app.py", "lib", "lib/util.py", "link-readme", "notes.txt"]


def test_parents_keep_the_directory_structure(ctx):
    [src] = sources(ctx, ["./src/**/*.py"], parents=True)
    assert src.parents and src.path == "."
    assert entries(src) == [".", "src", "src/app.py", "src/lib", "src/lib/util.py"]
    [src] = sources(ctx, ["./src/./lib/*.py"], parents=True)
    assert (src.path, entries(src)) == ("src", [".", "lib", "lib/util.py"])
    [src] = sources(ctx, ["docs/sub/b.md"], parents=True)
    assert entries(src) == [".", "docs", "docs/sub", "docs/sub/b.md"]
    assert entries(sources(ctx, ["nothing/*.x"], parents=True)[0]) == ["."]
    with pytest.raises(ContextError, match="no such file"):
        sources(ctx, ["docs/missing.md"], parents=True)
    with pytest.raises(ContextError, match="outside the build context"):
        sources(ctx, ["../x/./y"], parents=True)


def test_special_files(tmp_path):
    import socket
    tree(tmp_path, {"d/f": "f"})
    os.mkfifo(tmp_path / "d/fifo")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "d/sock"))
        [src] = sources(tmp_path, ["d"])
    finally:
        sock.close()
    assert [(e.path, e.type) for e in src.entries] == [(".", "dir"), ("f", "file"), ("fifo", "fifo")]


# --- the content digest

@pytest.mark.parametrize("change", ["content", "mode", "new file", "rename", "remove", "link target", "empty dir",
                                    "file to dir"])
def test_digest_changes_with_any_change(tmp_path, change):
    root = tree(tmp_path / "t", {"x/1": "one", "x/2": "two", "l": "->x/1"})
    before = digest_of(root)
    if change == "content":
        (root / "x/1").write_text("One")
    elif change == "mode":
        os.chmod(root / "x/1", 0o700)
    elif change == "new file":
        (root / "x/3").write_text("")
    elif change == "rename":
        (root / "x/2").rename(root / "x/22")
    elif change == "remove":
        (root / "x/2").unlink()
    elif change == "link target":
        (root / "l").unlink()
        (root / "l").symlink_to("x/2")
    elif change == "empty dir":
        (root / "x/e").mkdir()
    elif change == "file to dir":
        (root / "x/2").unlink()
        (root / "x/2").mkdir()
    assert digest_of(root) != before


def test_digest_follows_what_the_copy_takes(ctx):
    ignore = ["docs/a.md"]
    d = content_digest(sources(ctx, ["docs"], ignore))
    (ctx / "docs/a.md").write_text("changed, but ignored")
    assert content_digest(sources(ctx, ["docs"], ignore)) == d
    # a wildcard that now matches a renamed file: same instruction, another digest
    d = digest_of(ctx, ["hom*"])
    (ctx / "homer.txt").rename(ctx / "homey.txt")
    assert digest_of(ctx, ["hom*"]) != d
    # the options of the COPY count, and the order of sources
    assert digest_of(ctx, ["src"], chown="1:1") != digest_of(ctx, ["src"]) != digest_of(ctx, ["src"], chmod="755")
    assert digest_of(ctx, ["README.md", "home.md"]) != digest_of(ctx, ["home.md", "README.md"])
    # the same file copied under another name is another result
    shutil.copy(ctx / "README.md", ctx / "README2.md")
    assert digest_of(ctx, ["README.md"]) != digest_of(ctx, ["README2.md"])


def test_digest_of_inline_files():
    one = content_digest([], inline=[InlineFile("EOF", "hello\n")])
    assert one == content_digest([], inline=[InlineFile("EOF", "hello\n")])
    assert one != content_digest([], inline=[InlineFile("EOF", "hello!\n")])
    assert one != content_digest([], inline=[InlineFile("EOF", "hello\n", mode=0o755)])


def test_digest_speed_is_reported(tmp_path, capsys):
    import time
    root = tmp_path / "big"
    for i in range(40):
        d = root / f"d{i}"
        d.mkdir(parents=True)
        for j in range(50):
            (d / f"f{j}").write_bytes(os.urandom(256))
    (root / "blob").write_bytes(os.urandom(32 << 20))
    t0 = time.perf_counter()
    srcs = sources(root, ["."])
    t1 = time.perf_counter()
    content_digest(srcs)
    t2 = time.perf_counter()
    with capsys.disabled():
        print(f"\n[context] 2000 files + 32 MiB: sources {1000 * (t1 - t0):.0f} ms, digest {1000 * (t2 - t1):.0f} ms")
