"""The Dockerfile parser, substitution and stage plan of `bocker build` (engine/build/).

Pure Python, no containers: a table of Dockerfile snippets (many from the Dockerfile reference)
and what they parse to, the lines that continue, the directives, here-documents, variable
substitution with ARG/ENV scoping, multi-stage plans, and every error with its line.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from bocker_magics.engine.build import (
    Add,
    Arg,
    Cmd,
    Command,
    Copy,
    DockerfileError,
    Entrypoint,
    Env,
    Expander,
    Expose,
    From,
    Healthcheck,
    InlineFile,
    InvalidStage,
    Label,
    Lexer,
    LexError,
    Maintainer,
    Mount,
    Onbuild,
    Platform,
    Run,
    Scope,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    automatic_args,
    parse,
    parse_trigger,
    plan_build,
)
from bocker_magics.engine.build.variables import DEFAULT_PATH
from bocker_magics.errors import InvalidArgument


def body(text: str):
    """The instructions of a one-stage Dockerfile FROM busybox + text."""
    return parse("FROM busybox\n" + text).stages[0].instructions


def one(text: str):
    [instruction] = body(text)
    return instruction


def parsed(instruction) -> dict:
    """An instruction's parsed fields, without where it is."""
    return {f.name: getattr(instruction, f.name) for f in fields(instruction)
            if f.name not in ("location", "original", "flags", "raw_mounts")}


def error(text: str, file: str = "Dockerfile") -> str:
    with pytest.raises(DockerfileError) as e:
        parse(text, file)
    assert isinstance(e.value, InvalidArgument)
    assert "\n" not in str(e.value)
    return str(e.value)


def expand(instruction, **values):
    return instruction.expand(Expander(values))


SH = Command(("echo hi",), shell_form=True)

PARSE_TABLE = [
    # FROM
    ("FROM busybox", From, {"image": "busybox", "name": None, "platform": None}),
    ("FROM --platform=linux/arm64 alpine:3.20 AS Build", From,
     {"image": "alpine:3.20", "name": "build", "platform": "linux/arm64"}),
    ("from busybox as b", From, {"image": "busybox", "name": "b"}),
    ("FROM scratch", From, {"image": "scratch"}),
    ("FROM ${BASE}:$TAG", From, {"image": "${BASE}:$TAG"}),
    # RUN
    ("RUN echo hi", Run, {"command": SH, "network": "default", "security": "sandbox", "mounts": (), "heredocs": ()}),
    ('RUN ["echo", "hi there"]', Run, {"command": Command(("echo", "hi there"), shell_form=False)}),
    ('RUN [ -f /etc/passwd ] && echo "yes"', Run,
     {"command": Command(('[ -f /etc/passwd ] && echo "yes"',), shell_form=True)}),
    ("RUN echo 'we are running some # of cool things'", Run,
     {"command": Command(("echo 'we are running some # of cool things'",), True)}),
    ("RUN --network=none --security=insecure echo hi", Run,
     {"command": SH, "network": "none", "security": "insecure"}),
    ("RUN --mount=type=bind,source=src,target=/src,rw make", Run,
     {"mounts": (Mount(type="bind", source="src", target="/src", readonly=False),)}),
    ("RUN --mount=target=/ctx ls", Run, {"mounts": (Mount(type="bind", target="/ctx", readonly=True),)}),
    ("RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1000 pip install x", Run,
     {"mounts": (Mount(type="cache", target="/root/.cache", id="pip", sharing="locked", mode=0o700, uid=1000,
                       readonly=False),)}),
    ("RUN --mount=type=tmpfs,target=/tmp,size=64m true", Run,
     {"mounts": (Mount(type="tmpfs", target="/tmp", size=64 << 20, readonly=False),)}),
    ("RUN --mount=type=secret,id=token,env=TOKEN,required true", Run,
     {"mounts": (Mount(type="secret", id="token", env="TOKEN", required=True, readonly=True),)}),
    ('RUN --mount=type=bind,from=build,\\"source=a,b\\",target=/x true', Run,   # a quoted CSV field
     {"mounts": (Mount(type="bind", from_="build", source="a,b", target="/x"),)}),
    ("RUN --mount=type=cache,target=/a --mount=type=cache,target=/b true", Run,
     {"mounts": (Mount(type="cache", target="/a", readonly=False), Mount(type="cache", target="/b", readonly=False))}),
    # CMD / ENTRYPOINT / SHELL
    ('CMD ["nginx", "-g", "daemon off;"]', Cmd, {"command": Command(("nginx", "-g", "daemon off;"), False)}),
    ("CMD echo $HOME", Cmd, {"command": Command(("echo $HOME",), True)}),
    ("CMD []", Cmd, {"command": Command((), False)}),
    ('ENTRYPOINT ["top", "-b"]', Entrypoint, {"command": Command(("top", "-b"), False)}),
    ("ENTRYPOINT exec top -b", Entrypoint, {"command": Command(("exec top -b",), True)}),
    ("ENTRYPOINT []", Entrypoint, {"command": Command((), False)}),
    ('SHELL ["/bin/bash", "-o", "pipefail", "-c"]', Shell, {"shell": ("/bin/bash", "-o", "pipefail", "-c")}),
    ('SHELL ["powershell", "-command"]', Shell, {"shell": ("powershell", "-command")}),
    # COPY / ADD
    ("COPY file1.txt file2.txt /usr/src/things/", Copy,
     {"sources": ("file1.txt", "file2.txt"), "dest": "/usr/src/things/", "from_": None, "chown": None,
      "chmod": None, "link": False, "parents": False, "excludes": (), "json_form": False, "inline": ()}),
    ('COPY ["a file", "/dest dir/"]', Copy, {"sources": ("a file",), "dest": "/dest dir/", "json_form": True}),
    ("COPY --from=build --chown=55:mygroup --chmod=644 --link /myapp /usr/bin/", Copy,
     {"sources": ("/myapp",), "dest": "/usr/bin/", "from_": "build", "chown": "55:mygroup", "chmod": "644",
      "link": True}),
    ("COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf", Copy, {"from_": "nginx:latest"}),
    ("COPY --link=false --chmod=u=rwX,go=rX . /app/", Copy, {"link": False, "chmod": "u=rwX,go=rX"}),
    ("COPY --parents ./x/a.txt ./y/a.txt /parents/", Copy,
     {"parents": True, "sources": ("./x/a.txt", "./y/a.txt")}),
    ("COPY --exclude=*.txt --exclude=*.md hom* /mydir/", Copy, {"excludes": ("*.txt", "*.md"), "sources": ("hom*",)}),
    ("COPY arr[[]0].txt /dest/", Copy, {"sources": ("arr[[]0].txt",)}),
    ("COPY --chown=$UID:$GID $SRC $DEST", Copy, {"chown": "$UID:$GID", "sources": ("$SRC",), "dest": "$DEST"}),
    ("ADD --checksum=sha256:24454f830cdd --unpack=true --keep-git-dir=false --chown=1 app.tar /x/", Add,
     {"checksum": "sha256:24454f830cdd", "unpack": True, "keep_git_dir": False, "chown": "1",
      "sources": ("app.tar",), "dest": "/x/"}),
    ("ADD --exclude=*.tmp --link src /src", Add, {"excludes": ("*.tmp",), "link": True, "unpack": None}),
    # ENV / ARG / LABEL
    ("ENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy", Env,
     {"pairs": (("MY_NAME", '"John Doe"'), ("MY_DOG", "Rex\\ The\\ Dog"), ("MY_CAT", "fluffy")), "legacy": False}),
    ("ENV MY_VAR my-value with  spaces", Env, {"pairs": (("MY_VAR", "my-value with  spaces"),), "legacy": True}),
    ("ENV EMPTY=", Env, {"pairs": (("EMPTY", ""),)}),
    ("ENV A='single $quoted' B=\"double $x\"", Env, {"pairs": (("A", "'single $quoted'"), ("B", '"double $x"'))}),
    ("ARG user1", Arg, {"args": (("user1", None),)}),
    ("ARG user1=someuser buildno=1 empty= bare", Arg,
     {"args": (("user1", "someuser"), ("buildno", "1"), ("empty", ""), ("bare", None))}),
    ('ARG GREETING="hello world"', Arg, {"args": (("GREETING", '"hello world"'),)}),
    ('LABEL "com.example.vendor"="ACME Incorporated" version=1.0 description="This text illustrates \\\n'
     'that label-values can span multiple lines."', Label,
     {"pairs": (('"com.example.vendor"', '"ACME Incorporated"'), ("version", "1.0"),
                ("description", '"This text illustrates that label-values can span multiple lines."'))}),
    ("LABEL maintainer some one", Label, {"pairs": (("maintainer", "some one"),), "legacy": True}),
    # the one-argument instructions
    ("WORKDIR /path/to/workdir", Workdir, {"path": "/path/to/workdir"}),
    ("WORKDIR $DIRPATH/$DIRNAME", Workdir, {"path": "$DIRPATH/$DIRNAME"}),
    ("USER patrick:staff", User, {"user": "patrick:staff"}),
    ("STOPSIGNAL SIGKILL", StopSignal, {"signal": "SIGKILL"}),
    ("STOPSIGNAL 9", StopSignal, {"signal": "9"}),
    ("STOPSIGNAL SIGRTMIN+3", StopSignal, {"signal": "SIGRTMIN+3"}),
    ("MAINTAINER Jane Doe <jane@example.com>", Maintainer, {"name": "Jane Doe <jane@example.com>"}),
    # EXPOSE / VOLUME
    ("EXPOSE 80/udp 80/tcp 8000-8010 $PORT", Expose, {"ports": ("80/udp", "80/tcp", "8000-8010", "$PORT")}),
    ('VOLUME ["/data"]', Volume, {"paths": ("/data",)}),
    ("VOLUME /var/log /var/db", Volume, {"paths": ("/var/log", "/var/db")}),
    # HEALTHCHECK
    ("HEALTHCHECK NONE", Healthcheck, {"test": ("NONE",)}),
    ("HEALTHCHECK --interval=5m --timeout=3s \\\n  CMD curl -f http://localhost/ || exit 1", Healthcheck,
     {"test": ("CMD-SHELL", "curl -f http://localhost/ || exit 1"), "interval": 300 * 10**9,
      "timeout": 3 * 10**9, "start_period": 0, "start_interval": 0, "retries": 0}),
    ('HEALTHCHECK --start-period=1m30s --start-interval=500ms --retries=5 cmd ["/bin/check", "-q"]', Healthcheck,
     {"test": ("CMD", "/bin/check", "-q"), "start_period": 90 * 10**9, "start_interval": 500 * 10**6, "retries": 5}),
    ("HEALTHCHECK --interval=1.5h CMD true", Healthcheck, {"interval": 5400 * 10**9}),
]


@pytest.mark.parametrize("text,kind,expected", PARSE_TABLE, ids=[t[0][:50] for t in PARSE_TABLE])
def test_parse_table(text, kind, expected):
    if kind is From:
        instruction = parse(text).stages[0].from_
    else:
        instruction = one(text)
    assert type(instruction) is kind
    got = parsed(instruction)
    assert {k: got[k] for k in expected} == expected


def test_an_instruction_knows_its_lines_original_text_and_flags():
    df = parse("# comment\n\nFROM busybox\nRUN --network=none \\\n  echo a \\\n  b\n\n  COPY --chown=1:1 x /y\n")
    run, copy = df.stages[0].instructions
    assert (run.location.line, run.location.end_line) == (4, 6)
    assert run.original == "RUN --network=none   echo a   b"
    assert run.flags == ("--network=none",)
    assert run.command.args == ("echo a   b",)
    assert (copy.line, copy.location.end_line, copy.flags) == (8, 8, ("--chown=1:1",))
    assert copy.location.file == "Dockerfile"


def test_onbuild_wraps_a_parsed_instruction():
    add, run = body("ONBUILD ADD . /app/src\nonbuild RUN /usr/local/bin/python-build --dir /app/src\n")
    assert isinstance(add, Onbuild) and isinstance(add.trigger, Add)
    assert add.trigger.sources == (".",) and add.expression == "ADD . /app/src"
    assert isinstance(run.trigger, Run) and run.expression == "RUN /usr/local/bin/python-build --dir /app/src"
    copy = one("ONBUILD COPY --from=build /usr/bin/app /app").trigger
    assert copy.from_ == "build"     # a downstream stage: not checked against this Dockerfile


def test_an_onbuild_trigger_from_a_base_image_parses_at_the_from_line():
    where = parse("FROM busybox\n").stages[0].location
    trigger = parse_trigger("COPY . /app", where)
    assert isinstance(trigger, Copy) and trigger.location == where
    with pytest.raises(DockerfileError, match=r"^Dockerfile:1: the base image's ONBUILD trigger 'RUNN x'"):
        parse_trigger("RUNN x", where)
    with pytest.raises(DockerfileError, match="FROM isn't allowed as an ONBUILD trigger"):
        parse_trigger("FROM x", where)


def test_cache_key_is_the_meaning_not_the_spacing():
    a = one("RUN  --network=none   echo hi")
    b = one("run --network=none echo hi")
    c = one("RUN --network=host echo hi")
    assert a.cache_key() == b.cache_key() != c.cache_key()
    assert one("COPY a /b").cache_key() != one("ADD a /b").cache_key()
    assert isinstance(one("ONBUILD RUN x").cache_key(), str)


# --- lines: comments, whitespace, continuations, directives

def test_comments_and_leading_whitespace_are_dropped():
    df = parse("        # this is a comment-line\nFROM x\n    RUN echo hello\nRUN echo world\n")
    assert [i.command.args[0] for i in df.stages[0].instructions] == ["echo hello", "echo world"]


def test_a_comment_inside_a_continuation_is_removed():
    assert one("RUN echo hello \\\n# comment\nworld").command.args == ("echo hello world",)
    assert one("RUN echo hello \\\n   # indented comment\nworld").command.args == ("echo hello world",)


def test_whitespace_inside_arguments_is_kept():
    # the reference's example prints "    hello    world"
    run = one('RUN echo "\\\n     hello\\\n     world"')
    assert run.command.args == ('echo "     hello     world"',)


def test_a_blank_continuation_line_is_skipped_with_a_warning():
    df = parse("FROM x\nRUN echo a \\\n\n  b\n")
    assert df.stages[0].instructions[0].command.args == ("echo a   b",)
    assert df.warnings and "empty continuation line" in df.warnings[0] and df.warnings[0].startswith("Dockerfile:2:")


def test_continuation_details():
    assert one("RUN a \\   \t\nb").command.args == ("a b",)             # blanks after the escape
    two = body("RUN echo c:\\\\\nRUN dir c:\\\n")                      # an escaped escape ends the line
    assert [i.command.args[0] for i in two] == ["echo c:\\\\", "dir c:"]
    assert one("RUN echo a \\").command.args == ("echo a",)             # a continuation at the end of file
    assert one("RUN a \\\n\\\nb").command.args == ("a b",)               # a line of only the escape continues
    assert one("# comment \\\nRUN echo x") is not None                  # comments don't continue


def test_crlf_bom_and_case():
    df = parse("\ufeffFROM busybox\r\nrun echo hi\r\nEnV a=b\r\n")
    run, env = df.stages[0].instructions
    assert run.command.args == ("echo hi",) and env.pairs == (("a", "b"),)
    assert parse(b"FROM busybox\nRUN echo \xc3\xa9\n").stages[0].instructions[0].command.args == ("echo é",)


def test_parser_directives():
    df = parse("# syntax=docker/dockerfile:1\n#  ESCAPE = `\n# check=skip=JSONArgsRecommended\n\nFROM x\n")
    assert df.syntax == "docker/dockerfile:1"
    assert df.escape == "`" and df.directives["check"] == "skip=JSONArgsRecommended"
    for text in ("#directive=value", "# directive =value", "#\tdirective= value", "# directive = value",
                 "#\t  dIrEcTiVe=value"):
        assert parse(text.replace("directive", "syntax").replace("dIrEcTiVe", "syntax") + "\nFROM x").syntax == "value"


def test_directives_only_count_at_the_top():
    # after an instruction, a comment or a blank line, a directive is just a comment
    assert parse("FROM x\n# escape=`\n").escape == "\\"
    assert parse("# About my dockerfile\n# escape=`\nFROM x\n").escape == "\\"
    assert parse("\n# escape=`\nFROM x\n").escape == "\\"
    assert parse("# unknowndirective=value\n# syntax=value\nFROM x\n").syntax is None
    # no continuation in a directive: the reference's example is a comment, then an instruction
    assert error("# direc \\\ntive=value\nFROM x\n").startswith("Dockerfile:2: unknown instruction: tive=value")


def test_the_backtick_escape_directive():
    # the reference's Windows example: with ` the backslashes are plain
    df = parse("# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n")
    copy, run = df.stages[0].instructions
    assert copy.dest == "c:\\" and run.command.args == ("dir c:\\",)
    df = parse("# escape=`\nFROM x\nRUN echo a `\n  b\nENV A=x`\"y B=\"q`\"q\"\n")
    run, env = df.stages[0].instructions
    assert run.command.args == ("echo a   b",)
    assert env.expand(Expander({}, df.escape)).pairs == (("A", 'x"y'), ("B", 'q"q'))
    workdir = parse("# escape=`\nFROM x\nWORKDIR `$B/$B\\x\n").stages[0].instructions[0]
    assert workdir.expand(Expander({"B": "b"}, "`")).path == "$B/b\\x"     # ` escapes $, \ is plain
    # and without it the backslash continues the COPY into the RUN, as Docker does
    copy, = parse("FROM x\nCOPY testfile.txt c:\\\nRUN dir c:\\\n").stages[0].instructions
    assert (copy.sources, copy.dest) == (("testfile.txt", "c:RUN", "dir"), "c:")


# --- here-documents

def test_run_heredoc_body_is_the_script():
    run = one("RUN <<EOT\n  mkdir -p foo/bar\nEOT")
    assert run.heredocs[0].name == "EOT" and run.heredocs[0].content == "  mkdir -p foo/bar\n"
    assert run.process(["/bin/sh", "-c"]).argv == ("/bin/sh", "-c", "  mkdir -p foo/bar\n")
    assert run.location.end_line == 4


def test_run_heredoc_with_a_shebang_runs_as_a_file():
    run = one('RUN <<EOT\n#!/usr/bin/env python\nprint("hello world")\nEOT')
    process = run.process(["/bin/sh", "-c"])
    assert process.argv == ("/dev/pipes/EOT",)
    assert process.files == (InlineFile("/dev/pipes/EOT", '#!/usr/bin/env python\nprint("hello world")\n',
                                        mode=0o755),)


def test_run_heredoc_fed_to_a_command_goes_to_the_shell_whole():
    run = one("RUN <<EOT bash\n  set -ex\n  apt-get update\nEOT")
    assert run.process(["/bin/sh", "-c"]).argv == ("/bin/sh", "-c", "<<EOT bash\n  set -ex\n  apt-get update\nEOT")
    run = one("RUN <<FILE1 cat > file1 && <<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2")
    assert [(h.name, h.content) for h in run.heredocs] == [("FILE1", "I am\nfirst\n"), ("FILE2", "I am\nsecond\n")]
    assert run.process(["sh", "-c"]).argv[2] == ("<<FILE1 cat > file1 && <<FILE2 cat > file2\n"
                                                 "I am\nfirst\nFILE1\nI am\nsecond\nFILE2")
    assert one("RUN python3 <<COMPLEX\nprint('hi')\nCOMPLEX").heredocs[0].content == "print('hi')\n"


def test_heredoc_delimiters():
    def doc(line: str, text: str = "x\n", end: str = "EOF"):
        return one(f"RUN {line}\n{text}{end}").heredocs

    [h] = doc("<<EOF")
    assert (h.name, h.expand, h.chomp, h.fd) == ("EOF", True, False, None)
    assert doc('<<"EOF"')[0].expand is False and doc("<<'EOF'")[0].expand is False
    assert doc("<<eo'f'", end="eof")[0].expand is False
    assert doc("<<eo\\'f", end="eo'f")[0].expand is True          # an escaped quote isn't quoting
    assert doc("<<'one two'", end="one two")[0].name == "one two"
    assert doc("3<<EOF")[0].fd == 3
    assert doc("<<  EOF  > foo")[0].name == "EOF"
    [h] = doc("<<-EOF", "\tbaz\n\t\tquux\n", "\t\tEOF")               # <<- strips tabs, the end line's too
    assert h.chomp and h.content == "\tbaz\n\t\tquux\n" and h.data == "baz\nquux\n"
    assert one("RUN <<EOF\n# not a comment\n  \\\nEOF").heredocs[0].content == "# not a comment\n  \\\n"
    assert one('RUN "<<NOHEREDOC"').heredocs == ()
    assert one('RUN ["<<EOF"]').heredocs == ()                       # no here-documents in the exec form
    assert one("RUN echo a<<b").heredocs == ()


def test_the_instruction_after_a_heredoc_has_its_own_line():
    run, env = body("RUN <<EOF\nENV X=1\nEOF\nENV Y=2\n")
    assert run.heredocs[0].content == "ENV X=1\n"
    assert (env.line, env.pairs) == (5, (("Y", "2"),))


def test_copy_heredocs_are_inline_files():
    copy = one("COPY <<EOF greeting.txt\nhello world\nEOF")
    assert copy.sources == () and copy.dest == "greeting.txt"
    assert copy.inline == (InlineFile("EOF", "hello world\n", expand=True),)   # EOF, copied to greeting.txt
    copy = one("COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2")
    assert [(f.path, f.content) for f in copy.inline] == [("FILE1", "content 1\n"), ("FILE2", "content 2\n")]
    copy = one("COPY <<X <<Y /dest\nY\nX\nX\nY")
    assert [(f.path, f.content) for f in copy.inline] == [("X", "Y\n"), ("Y", "X\n")]
    copy = one("COPY --chmod=755 <<EOF file.txt /dest/\n\tline\nEOF")
    assert copy.sources == ("file.txt",) and copy.inline[0].content == "\tline\n"


def test_copy_heredoc_substitution_follows_the_delimiter_quoting():
    # the reference: `COPY <<-EOT /script.sh` with ARG FOO=bar writes "hello bar"
    lines = ["FROM alpine", "ARG FOO=bar", "COPY <<-EOT /script.sh", '\t  echo "hello ${FOO}"', "EOT"]
    scope, (arg, copy) = _run_stage("\n".join(lines))
    assert copy.inline[0].content == '  echo "hello bar"\n'
    lines[2] = 'COPY <<-"EOT" /script.sh'
    scope, (arg, copy) = _run_stage("\n".join(lines))
    assert copy.inline[0].content == '  echo "hello ${FOO}"\n'
    # in a body, quotes are text and a backslash escapes (BuildKit's rules)
    inline = expand(one("COPY <<EOF f\n\"quotes\" 'stay'\n\\$X \\\\ $X\nEOF"), X="1").inline[0]
    assert inline.content == "\"quotes\" 'stay'\n$X \\ 1\n"


def test_onbuild_heredoc_keeps_its_body_in_the_expression():
    onbuild = one("ONBUILD RUN <<EOF\necho hi\nEOF")
    assert onbuild.trigger.heredocs[0].content == "echo hi\n"
    assert onbuild.expression == "RUN <<EOF\necho hi\nEOF"
    assert parse_trigger(onbuild.expression, onbuild.location).heredocs[0].content == "echo hi\n"


# --- substitution

@pytest.mark.parametrize("word,expected", [
    ("$A", "a"), ("${A}", "a"), ("${A}_bar", "a_bar"), ("$A_bar", ""), ("pre$A.post", "prea.post"),
    ("${UNSET:-word}", "word"), ("${EMPTY:-word}", "word"), ("${A:-word}", "a"),
    ("${UNSET-word}", "word"), ("${EMPTY-word}", ""), ("${A-word}", "a"),
    ("${UNSET:+word}", ""), ("${EMPTY:+word}", ""), ("${A:+word}", "word"),
    ("${UNSET+word}", ""), ("${EMPTY+word}", "word"), ("${A+word}", "word"),
    ("${UNSET:-$A$A}", "aa"), ("${UNSET:-${ALSO:-deep}}", "deep"), ("${A:?must}", "a"),
    ("\\$A", "$A"), ("\\${A}", "${A}"), ("'$A'", "$A"), ('"$A"', "a"), ('"\\$A"', "$A"),
    ('"a b"', "a b"), ("a\\ b", "a b"), ("$", "$"), ("$.", "$."), ("$1x", "x"),
    ("${PATHV#*/}", "usr/local/bin"), ("${PATHV##*/}", "bin"), ("${PATHV%/*}", "/usr/local"),
    ("${PATHV%%/l*}", "/usr"), ("${PATHV/usr/opt}", "/opt/local/bin"), ("${PATHV//l/L}", "/usr/LocaL/bin"),
    ("${PATHV#\\*}", "/usr/local/bin"),
])
def test_substitution(word, expected):
    values = {"A": "a", "EMPTY": "", "PATHV": "/usr/local/bin"}
    assert Lexer().word(word, values) == expected


@pytest.mark.parametrize("word,message", [
    ("${UNSET:?UNSET must be set}", "UNSET: UNSET must be set"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${}", "bad substitution"), ("${A", "missing '}'"), ("${A:x}", "unsupported modifier (:x)"),
    ("${A:#x}", "unsupported modifier (:#)"), ('"open', "matching double-quote"), ("'open", "single-quote"),
    ("${A/x", "missing '/'"),
])
def test_substitution_errors(word, message):
    with pytest.raises(LexError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Lexer().word(word, {"A": "a", "EMPTY": ""})


def test_words_split_after_substitution():
    assert Lexer().words('$P "x y" 3', {"P": "1  2"}) == ["1", "2", "x y", "3"]


SUBSTITUTED = {   # an instruction with $X in it -> the field to look at, after expand with X=v
    "ADD $X /$X": lambda i: i.sources + (i.dest,),
    "COPY --chown=$X:$X --chmod=$M $X /$X/": lambda i: i.sources + (i.dest, i.chown, i.chmod),
    "ENV $X=$X": lambda i: i.pairs[0],
    "EXPOSE $P": lambda i: i.ports,
    "LABEL $X=$X": lambda i: i.pairs[0],
    "STOPSIGNAL SIG$S": lambda i: (i.signal,),
    "USER $X": lambda i: (i.user,),
    "VOLUME /$X": lambda i: i.paths,
    "WORKDIR /$X": lambda i: (i.path,),
    "RUN --mount=type=cache,target=/$X echo $X": lambda i: (i.mounts[0].target, i.command.args[0]),
}
NOT_SUBSTITUTED = ["RUN echo $X", "CMD echo $X", 'ENTRYPOINT ["$X"]', 'SHELL ["$X", "-c"]',
                   "HEALTHCHECK CMD check $X", "ONBUILD WORKDIR /$X", "MAINTAINER $X"]


def test_substitution_happens_in_exactly_docker_s_instructions():
    values = {"X": "v", "M": "755", "P": "80", "S": "TERM"}
    got = {text: pick(expand(one(text), **values)) for text, pick in SUBSTITUTED.items()}
    assert got == {
        "ADD $X /$X": ("v", "/v"), "COPY --chown=$X:$X --chmod=$M $X /$X/": ("v", "/v/", "v:v", "755"),
        "ENV $X=$X": ("v", "v"), "EXPOSE $P": ("80/tcp",), "LABEL $X=$X": ("v", "v"), "STOPSIGNAL SIG$S": ("SIGTERM",),
        "USER $X": ("v",), "VOLUME /$X": ("/v",), "WORKDIR /$X": ("/v",),
        "RUN --mount=type=cache,target=/$X echo $X": ("/v", "echo $X"),
    }
    for text in NOT_SUBSTITUTED:
        instruction = one(text)
        assert expand(instruction, **values) == instruction, text
    assert expand(parse("FROM img:$X").stages[0].from_, X="v").image == "img:v"


def test_reference_environment_replacement_example():
    _, steps = _run_stage("FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux\n")
    env, workdir, add, copy = steps
    assert workdir.path == "/bar" and add.dest == "/bar" and copy.sources == ("$FOO",)


def test_env_substitution_uses_the_values_before_the_instruction():
    scope, steps = _run_stage("FROM busybox\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n")
    assert scope.env["def"] == "hello" and scope.env["ghi"] == "bye"


def test_single_quotes_keep_env_and_label_values_literal():
    scope, (env, label) = _run_stage("FROM x\nENV A='$HOME \"q\"' B=\"$A\"\nLABEL l='${A}' m=\"${A}\"\n")
    assert env.pairs == (("A", '$HOME "q"'), ("B", ""))
    assert label.pairs == (("l", "${A}"), ("m", '$HOME "q"'))


def test_expose_expands_words_and_ranges():
    _, steps = _run_stage('FROM x\nENV PORTS="80 443/tcp"\nEXPOSE $PORTS 53/UDP 8000-8002\n')
    assert steps[1].ports == ("80/tcp", "443/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp")


def test_a_substitution_error_names_the_file_and_line():
    df = parse("FROM x\n\nWORKDIR ${DIR:?set DIR with --build-arg}\n", "app/Dockerfile")
    scope = plan_build(df).scope(plan_build(df).stages[0])
    with pytest.raises(DockerfileError) as e:
        scope.expand(df.stages[0].instructions[0])
    assert str(e.value) == "app/Dockerfile:3: DIR: set DIR with --build-arg"
    df = parse("FROM x\nARG M=999\nCOPY --chmod=$M a /b\n")
    plan = plan_build(df)
    scope = plan.scope(plan.stages[0])
    scope.apply(scope.expand(df.stages[0].instructions[0]))
    with pytest.raises(DockerfileError, match=r"^Dockerfile:3: invalid chmod parameter: '999'"):
        scope.expand(df.stages[0].instructions[1])


# --- ARG and ENV scope

def _run_stage(text: str, build_args=None, index: int = -1, base_env=()):
    """Walk one stage as a builder would: expand, then apply, each instruction."""
    plan = plan_build(parse(text), build_args or {})
    planned = plan.stage(index if index >= 0 else len(plan.all_stages) + index)
    scope = plan.scope(planned, base_env=base_env)
    steps = []
    for instruction in planned.stage.instructions:
        step = scope.expand(instruction)
        scope.apply(step)
        steps.append(step)
    return scope, steps


def test_arg_comes_into_effect_from_its_line():
    # the reference's example, built with --build-arg username=what_user
    text = "FROM busybox\nUSER ${username:-some_user}\nARG username\nUSER $username\n"
    _, (user1, _, user2) = _run_stage(text, {"username": "what_user"})
    assert (user1.user, user2.user) == ("some_user", "what_user")


def test_env_always_overrides_arg():
    text = "FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nRUN echo $CONT_IMG_VER\n"
    scope, _ = _run_stage(text, {"CONT_IMG_VER": "v2.0.1"})
    assert scope.values()["CONT_IMG_VER"] == "v1.0.0" == scope.run_environment()["CONT_IMG_VER"]
    text = "FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n"
    assert _run_stage(text, {"CONT_IMG_VER": "v2.0.1"})[0].env["CONT_IMG_VER"] == "v2.0.1"
    assert _run_stage(text)[0].env["CONT_IMG_VER"] == "v1.0.0"
    # an ENV of the base image wins too, even over a later ARG
    scope, _ = _run_stage("FROM x\nARG V=arg\nUSER $V\n", base_env=["V=image"])
    assert scope.values()["V"] == "image"


def test_args_are_in_run_environment_but_not_in_the_image():
    scope, _ = _run_stage("FROM x\nARG A=1\nENV B=2\n", {"HTTP_PROXY": "http://proxy:3128", "UNUSED": "u"})
    assert scope.image_env() == [f"PATH={DEFAULT_PATH}", "B=2"]
    assert scope.run_environment() == {"HTTP_PROXY": "http://proxy:3128", "PATH": DEFAULT_PATH, "A": "1", "B": "2"}
    assert "HTTP_PROXY" not in scope.values()     # a predefined ARG isn't substituted unless declared
    plan = plan_build(parse("ARG G\nFROM x\nARG A=1\n"), {"HTTP_PROXY": "p", "UNUSED": "u", "A": "2", "G": "g",
                                                        "BUILDKIT_INLINE_CACHE": "1"})
    assert plan.unused_build_args() == ["UNUSED"]


def test_several_args_on_a_line_see_each_other():
    scope, (arg,) = _run_stage("FROM x\nARG A=1 B=${A}2 C\n", {"C": "from-cli"})
    assert arg.args == (("A", "1"), ("B", "12"), ("C", "from-cli"))
    assert scope.args == {"A": "1", "B": "12", "C": "from-cli"} and scope.declared == {"A", "B", "C"}
    scope, (arg,) = _run_stage('FROM x\nARG Q="quoted value" E=\n')
    assert scope.args == {"Q": "quoted value", "E": ""}


def test_global_args_serve_from_lines_and_need_redeclaring_in_a_stage():
    text = ("ARG VERSION=latest\nARG BASE=busybox:${VERSION}\nFROM $BASE\nRUN echo $VERSION\n"
            "ARG VERSION\nUSER $VERSION\nARG OTHER=x\n")
    plan = plan_build(parse(text))
    assert plan.stages[0].base.image == "busybox:latest"
    scope, (run, arg, user, _) = _run_stage(text)
    assert run.command.args == ("echo $VERSION",) and arg.args == (("VERSION", "latest"),)
    assert user.user == "latest"
    plan = plan_build(parse(text), {"VERSION": "1.36"})
    assert plan.stages[0].base.image == "busybox:1.36" and plan.globals["BASE"] == "busybox:1.36"
    # before the ARG in the stage, the global isn't visible
    _, (user,) = _run_stage("ARG V=g\nFROM x\nUSER ${V:-none}\n")
    assert user.user == "none"
    # a stage's default beats the global one; a --build-arg beats both
    assert _run_stage("ARG V=g\nFROM x\nARG V=s\n")[0].args["V"] == "s"
    assert _run_stage("ARG V=g\nFROM x\nARG V=s\n", {"V": "cli"})[0].args["V"] == "cli"


def test_automatic_platform_args():
    auto = automatic_args(Platform.parse("linux/arm/v7"), Platform.parse("linux/amd64"))
    assert auto == {"TARGETPLATFORM": "linux/arm/v7", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7",
                    "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDARCH": "amd64", "BUILDVARIANT": ""}
    text = "FROM --platform=$BUILDPLATFORM golang:$TARGETARCH AS b\nUSER x$TARGETARCH\nARG TARGETARCH\nUSER $TARGETARCH\n"
    plan = plan_build(parse(text), target_platform=Platform.parse("linux/arm64"),
                      build_platform=Platform.parse("linux/amd64"))
    assert plan.stages[0].from_.image == "golang:arm64" and plan.stages[0].platform == "linux/amd64"
    scope = plan.scope(plan.stages[0])
    users = []
    for instruction in plan.stages[0].stage.instructions:
        step = scope.expand(instruction)
        scope.apply(step)
        users.append(getattr(step, "user", None))
    assert users == ["x", None, "arm64"]


def test_a_stage_built_on_a_stage_inherits_its_scope():
    df = parse("FROM busybox AS base\nARG A=1\nENV B=2\nFROM base\nUSER $A:$B\n")
    plan = plan_build(df)
    base, child = plan.stages
    scope = plan.scope(base)
    for instruction in base.stage.instructions:
        scope.apply(scope.expand(instruction))
    with pytest.raises(ValueError, match="pass that stage's scope"):
        plan.scope(child)
    child_scope = plan.scope(child, parent=scope)
    assert child_scope.expand(child.stage.instructions[0]).user == "1:2"
    child_scope.apply(child_scope.expand(parse("FROM x\nENV B=3\n").stages[0].instructions[0]))
    assert scope.env["B"] == "2"      # the parent's scope is unchanged


def test_scope_for_a_base_image_env():
    scope = Scope.for_stage({}, {}, base_env=["PATH=/bin", "HOME=/root", "EQ=a=b"])
    assert scope.env == {"PATH": "/bin", "HOME": "/root", "EQ": "a=b"}
    assert Scope.for_stage({}, {}).env == {"PATH": DEFAULT_PATH}


# --- stages and --target

MULTI = """\
ARG BASE=busybox
FROM $BASE AS base
RUN echo base
FROM base AS build
RUN echo build > /out
FROM busybox AS tools
FROM alpine:3 AS unrelated
FROM scratch AS final
COPY --from=build /out /out
COPY --from=2 /bin/true /true
COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf
RUN --mount=type=bind,from=unrelated,target=/u true
"""


def test_stages_have_index_name_and_base():
    df = parse(MULTI)
    assert [(s.index, s.name) for s in df.stages] == [(0, "base"), (1, "build"), (2, "tools"), (3, "unrelated"),
                                                     (4, "final")]
    plan = plan_build(df, target="final")
    assert [(p.index, p.base.kind, p.base.image, p.base.stage) for p in plan.stages] == [
        (0, "image", "busybox", None), (1, "stage", None, 0), (2, "image", "busybox", None),
        (3, "image", "alpine:3", None), (4, "scratch", "scratch", None)]
    assert plan.stage(4).needs == (1, 2, 3) and plan.target == 4
    assert plan.source("build").stage == 1 and plan.source("2").stage == 2
    assert plan.source("nginx:latest").kind == "image" and plan.source("nginx:latest").image == "nginx:latest"
    assert df.stage("BUILD").index == 1 and df.stage(2).name == "tools"


def test_target_builds_only_the_stages_it_needs():
    df = parse(MULTI)
    assert [p.index for p in plan_build(df).stages] == [0, 1, 2, 3, 4]
    assert [p.index for p in plan_build(df, target="build").stages] == [0, 1]
    assert [p.index for p in plan_build(df, target="tools").stages] == [2]
    assert [p.index for p in plan_build(df, target="1").stages] == [0, 1]
    with pytest.raises(InvalidStage, match='target stage "buidl" could not be found.*did you mean "build"'):
        plan_build(df, target="buidl")
    # FROM names only earlier stages: a later one's name is an image
    df = parse("FROM later AS first\nFROM busybox AS later\n")
    assert plan_build(df).stage(0).base.kind == "image"


def test_from_a_stage_name_is_case_insensitive_and_from_args_are_global():
    df = parse("ARG IMG=Base\nFROM busybox AS base\nFROM $IMG\n")
    assert plan_build(df).stage(1).base.stage == 0
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: base name \(\$\{EMPTY\}\) should not be blank"):
        plan_build(parse("ARG EMPTY=\nFROM ${EMPTY}\n"))
    with pytest.raises(DockerfileError, match=r"^Dockerfile:1: FROM --platform: invalid platform"):
        plan_build(parse("FROM --platform=linux/ x\n"))


# --- errors: one line, FILE:LINE: message

ERRORS = [
    ("FROM x\nRUNN echo", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
    ("FROM x\nfoo bar", "Dockerfile:2: unknown instruction: foo"),
    ("FROM x\n\nCMD [\"a\", 1]", "Dockerfile:3: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM x\nRUN [\"a\", null]", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM x\nCOPY [\"a\", [\"b\"]]", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM x\nRUN", "Dockerfile:2: RUN requires at least one argument"),
    ("FROM x\nRUN []", "Dockerfile:2: RUN requires at least one argument"),
    ("FROM x\nCMD", "Dockerfile:2: CMD requires at least one argument"),
    ("FROM x\nENTRYPOINT", "Dockerfile:2: ENTRYPOINT requires at least one argument"),
    ("FROM x\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"),
    ("FROM x\nUSER", "Dockerfile:2: USER requires exactly one argument"),
    ("FROM x\nSTOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument"),
    ("FROM x\nMAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument"),
    ("FROM x\nENV", "Dockerfile:2: ENV requires at least one argument"),
    ("FROM x\nLABEL", "Dockerfile:2: LABEL requires at least one argument"),
    ("FROM x\nARG", "Dockerfile:2: ARG requires at least one argument"),
    ("FROM x\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"),
    ("FROM x\nVOLUME", "Dockerfile:2: VOLUME requires at least one argument"),
    ("FROM x\nVOLUME []", "Dockerfile:2: VOLUME requires at least one argument"),
    ('FROM x\nVOLUME ["/a", ""]', "Dockerfile:2: VOLUME specified can not be an empty string"),
    ("FROM x\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"),
    ("FROM x\nONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"),
    ("FROM x\nSHELL", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
    ("FROM x\nSHELL /bin/bash -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
    ("FROM x\nSHELL []", "Dockerfile:2: SHELL requires at least one argument"),
    ("FROM x\nCOPY onlyone", "Dockerfile:2: COPY requires at least two arguments, but only one was provided"),
    ("FROM x\nADD", "Dockerfile:2: ADD requires at least two arguments: a source and a destination"),
    ("FROM", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a b", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a AS 1st", 'Dockerfile:1: invalid name for build stage: "1st"'),
    ("FROM a AS x\nFROM b AS X", 'Dockerfile:2: duplicate stage name "x" (first at line 1)'),
    ("FROM x\nENV A", "Dockerfile:2: ENV must have two arguments"),
    ("FROM x\nENV A=1 B", 'Dockerfile:2: Syntax error - can\'t find = in "B". Must be of the form: name=value'),
    ("FROM x\nENV =1", "Dockerfile:2: ENV names can not be blank"),
    ("FROM x\nLABEL =1", "Dockerfile:2: LABEL names can not be blank"),
    ("FROM x\nARG =1", "Dockerfile:2: ARG names can not be blank"),
    ("FROM x\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc: no line EOF ends the here-document"),
    ("FROM x\nCOPY <<A <<B /x\na\nA\nb\n", "Dockerfile:2: unterminated heredoc: no line B"),
    ("FROM x\nRUN <<-EOF\n  EOF\n", "Dockerfile:2: unterminated heredoc"),     # <<- strips tabs only
    ("FROM x\nRUN <<'EOF\nx\n", "Dockerfile:2: unexpected end of statement while looking for matching single-quote"),
    ("FROM x\nCOPY a <<EOF\nx\nEOF", "Dockerfile:2: COPY cannot accept a heredoc as a destination"),
    ("FROM x\nCOPY --form=a b c", "Dockerfile:2: unknown flag: --form (did you mean --from?)"),
    ("FROM x\nCOPY --from=a --from=b c d", "Dockerfile:2: duplicate flag specified: --from"),
    ("FROM x\nCOPY --from c d", "Dockerfile:2: missing a value on flag: --from"),
    ("FROM x\nCOPY --link=yes c d", "Dockerfile:2: expecting boolean value for flag --link, not: yes"),
    ("FROM x\nCOPY --link= c d", "Dockerfile:2: missing a value on flag: --link"),
    ("FROM x\nADD --from=a b c", "Dockerfile:2: unknown flag: --from"),
    ("FROM x\nCOPY --from= a b", "Dockerfile:2: COPY --from needs a stage name, a stage index or an image"),
    ("ARG S=x\nFROM x\nCOPY --from=$S a b", "Dockerfile:3: variable expansion is not supported for --from"),
    ("FROM x\nCOPY --chmod=8 a b", "Dockerfile:2: invalid chmod parameter: '8'"),
    ("FROM x\nCMD --help", "Dockerfile:2: unknown flag: --help"),
    ("FROM x\nENV --x=1 A=1", "Dockerfile:2: unknown flag: --x"),
    ("FROM --plaform=linux/amd64 x", "Dockerfile:1: unknown flag: --plaform (did you mean --platform?)"),
    ("FROM x\nRUN --network=bridge true", 'Dockerfile:2: invalid network mode "bridge"'),
    ("FROM x\nRUN --security=root true", 'Dockerfile:2: security "root" is not valid'),
    ("FROM x\nRUN --mount=type=nfs,target=/x true", "Dockerfile:2: unsupported mount type 'nfs'"),
    ("FROM x\nRUN --mount=type=bind,target=/x,size=1m true", "Dockerfile:2: unexpected key 'size' for mount type 'bind'"),
    ("FROM x\nRUN --mount=type=bind,tgt=/x true", "Dockerfile:2: unexpected key 'tgt' in 'tgt=/x'"),
    ("FROM x\nRUN --mount=type=bind,nope true", "Dockerfile:2: invalid field 'nope' must be a key=value pair"),
    ("FROM x\nRUN --mount=type=cache true", "Dockerfile:2: a cache mount needs target=PATH"),
    ("FROM x\nRUN --mount=type=bind,target=/x,mode=0755 true", "Dockerfile:2: mode not allowed for 'bind' type mounts"),
    ("FROM x\nRUN --mount=type=secret true", "Dockerfile:2: invalid secret mount. one of source, target required"),
    ("FROM x\nRUN --mount=type=cache,target=/x,from=$S true", "Dockerfile:2: 'from' doesn't support variable expansion"),
    ("FROM x\nRUN --device=/dev/kvm true", "Dockerfile:2: unknown flag: --device"),
    ("FROM x\nONBUILD ONBUILD RUN x", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM x\nONBUILD FROM y", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM x\nONBUILD MAINTAINER y", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("FROM x\nONBUILD RUNN y", "Dockerfile:2: unknown instruction: RUNN"),
    ("FROM x\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
    ("FROM x\nHEALTHCHECK --retries=1 NONE", "Dockerfile:2: HEALTHCHECK NONE takes no options"),
    ("FROM x\nHEALTHCHECK TEST x", 'Dockerfile:2: Unknown type "TEST" in HEALTHCHECK (try CMD)'),
    ("FROM x\nHEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"),
    ("FROM x\nHEALTHCHECK --interval=5 CMD x", "Dockerfile:2: --interval: time: invalid duration '5'"),
    ("FROM x\nHEALTHCHECK --timeout=10us CMD x", 'Dockerfile:2: Interval "timeout" cannot be less than 1ms'),
    ("FROM x\nHEALTHCHECK --retries=-1 CMD x", "Dockerfile:2: --retries cannot be negative (-1)"),
    ("FROM x\nHEALTHCHECK --retries=a CMD x", "Dockerfile:2: --retries: 'a' is not a number"),
    ("FROM x\nEXPOSE 80/ipx", "Dockerfile:2: invalid port: '80/ipx': invalid proto: ipx"),
    ("FROM x\nEXPOSE 70000", "Dockerfile:2: invalid port: '70000'"),
    ("FROM x\nEXPOSE 90-80", "Dockerfile:2: invalid port range: 90-80"),
    ("FROM x\nEXPOSE 8080:80", "Dockerfile:2: EXPOSE 8080:80: EXPOSE takes container ports only"),
    ("FROM x\nSTOPSIGNAL SIGNOPE", "Dockerfile:2: invalid signal: SIGNOPE"),
    ("RUN echo", "Dockerfile:1: RUN before the first FROM: a Dockerfile starts with FROM (only ARG may come before it)"),
    ("", "Dockerfile:1: the Dockerfile has no instructions"),
    ("# only\n# comments\n", "Dockerfile:2: the Dockerfile has no instructions"),
    ("ARG A=1\n", "Dockerfile:1: the Dockerfile has no FROM"),
    ("# escape=x\nFROM a", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=\\\nFROM a", "Dockerfile:2: only one escape parser directive can be used"),
    ("FROM a AS a\nCOPY --from=a x y", "Dockerfile:2: COPY --from=a: stage a is this stage or comes after it (line 1)"),
    ("FROM a\nCOPY --from=b x y\nFROM c AS b", "Dockerfile:2: COPY --from=b: stage b is this stage or comes after it"),
    ("FROM a\nFROM b\nCOPY --from=5 x y", "Dockerfile:3: COPY --from=5: there is no stage 5 (stages 0-1)"),
    ("FROM a\nRUN --mount=from=b,target=/b true\nFROM c AS b", "Dockerfile:2: RUN --mount from=b: stage b"),
    ("FROM x\nRUN echo \\\n ok\nWORKDIR", "Dockerfile:4: WORKDIR requires exactly one argument"),
    ("FROM x\nRUN <<EOF\nWORKDIR\nEOF\nWORKDIR", "Dockerfile:5: WORKDIR requires exactly one argument"),
]


@pytest.mark.parametrize("text,message", ERRORS, ids=[m[:60] for _, m in ERRORS])
def test_errors_name_the_line(text, message):
    assert error(text).startswith(message)


def test_errors_use_the_given_file_name():
    assert error("FROM x\nRUNN", "build/app.Dockerfile") .startswith("build/app.Dockerfile:2: unknown instruction")
    assert error(b"FROM x\n\xff\n", "-") == "-:2: the Dockerfile is not UTF-8 text"


# --- whole Dockerfiles

REFERENCE_EXAMPLE = """\
# syntax=docker/dockerfile:1

ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=bind,source=go.sum,target=go.sum \\
    --mount=type=bind,source=go.mod,target=go.mod \\
    go mod download -x
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=bind,target=. \\
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /bin/server .

FROM alpine:latest AS final
RUN --mount=type=cache,target=/var/cache/apk \\
    apk --update add ca-certificates tzdata && update-ca-certificates
ARG UID=10001
RUN adduser --disabled-password --gecos "" --home "/nonexistent" --shell "/sbin/nologin" \\
    --no-create-home --uid "${UID}" appuser
USER appuser
COPY --from=build /bin/server /bin/
EXPOSE 8080
ENTRYPOINT [ "/bin/server" ]
"""


def test_a_whole_multi_stage_dockerfile():
    df = parse(REFERENCE_EXAMPLE)
    assert df.syntax == "docker/dockerfile:1" and [s.name for s in df.stages] == ["build", "final"]
    build, final = df.stages
    assert [i.keyword for i in build.instructions] == ["WORKDIR", "RUN", "ARG", "RUN"]
    assert [m.target for m in build.instructions[1].mounts] == ["/go/pkg/mod", "go.sum", "go.mod"]
    assert build.instructions[3].command.args == ("CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /bin/server .",)
    assert [i.line for i in final.instructions] == [16, 18, 19, 21, 22, 23, 24]
    plan = plan_build(df, target_platform=Platform.parse("linux/arm64"), build_platform=Platform.parse("linux/amd64"))
    assert plan.stages[0].from_.image == "golang:1.22-alpine" and plan.stages[0].platform == "linux/amd64"
    scope = plan.scope(plan.stages[1], base_env=["PATH=/usr/bin"])
    steps = []
    for instruction in final.instructions:
        steps.append(scope.expand(instruction))
        scope.apply(steps[-1])
    assert steps[-2].ports == ("8080/tcp",) and steps[-1].command == Command(("/bin/server",), False)
    assert scope.run_environment()["UID"] == "10001" and scope.image_env() == ["PATH=/usr/bin"]


def test_parse_speed_is_fine_for_a_big_dockerfile():
    text = "FROM busybox\n" + "".join(f"RUN echo {i} \\\n  && true\nENV K{i}=\"v {i}\"\nCOPY a{i} /b/\n"
                                      for i in range(2000))
    df = parse(text)
    assert len(df.stages[0].instructions) == 6000
