"""`bocker build`'s front half: the Dockerfile parser and the build context reader.

    df = parse(text, "Dockerfile")                  # stages of typed instructions, or DockerfileError
    plan = plan_build(df, build_args, target)       # the stages to build and their bases
    scope = plan.scope(stage, base_env=...)         # ARG/ENV state; scope.expand(i), scope.apply(i)
    ctx = BuildContext(dir, dockerfile)             # .dockerignore; ctx.sources([...]); ctx.digest(...)
"""

from .context import (DOCKERIGNORE, BuildContext, ContextError, Entry, Ignore, Source, content_digest,
                      read_ignore, sources)
from .dockerfile import Dockerfile, InvalidStage, Stage, parse, parse_trigger
from .instructions import (SUBSTITUTING, Add, Arg, Cmd, Command, Copy, DockerfileError, Entrypoint, Env,
                           Expander, Expose, From, Healthcheck, Heredoc, InlineFile, Instruction, Label,
                           Location, Maintainer, Mount, Onbuild, Run, RunProcess, Shell, StopSignal, User,
                           Volume, Workdir)
from .lexer import LexError, Lexer
from .patterns import IgnoreMatcher, PatternError, read_ignore_file
from .stages import Base, BuildPlan, PlannedStage, plan_build
from .variables import (BUILDKIT_ARGS, DEFAULT_PATH, PLATFORM_ARGS, PROXY_ARGS, Platform, Scope,
                        automatic_args, global_values, host_platform)

__all__ = [
    "DOCKERIGNORE", "BuildContext", "ContextError", "Entry", "Ignore", "Source", "content_digest", "read_ignore",
    "sources", "Dockerfile", "InvalidStage", "Stage", "parse", "parse_trigger", "SUBSTITUTING", "Add", "Arg",
    "Cmd", "Command", "Copy", "DockerfileError", "Entrypoint", "Env", "Expander", "Expose", "From",
    "Healthcheck", "Heredoc", "InlineFile", "Instruction", "Label", "Location", "Maintainer", "Mount",
    "Onbuild", "Run", "RunProcess", "Shell", "StopSignal", "User", "Volume", "Workdir", "LexError", "Lexer",
    "IgnoreMatcher", "PatternError", "read_ignore_file", "Base", "BuildPlan", "PlannedStage", "plan_build",
    "BUILDKIT_ARGS", "DEFAULT_PATH", "PLATFORM_ARGS", "PROXY_ARGS", "Platform", "Scope", "automatic_args",
    "global_values", "host_platform",
]
