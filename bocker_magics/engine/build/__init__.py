"""`bocker build`: the Dockerfile parser, the build context reader, and the builder.

    df = parse(text, "Dockerfile")                  # stages of typed instructions, or DockerfileError
    plan = plan_build(df, build_args, target)       # the stages to build and their bases
    scope = plan.scope(stage, base_env=...)         # ARG/ENV state; scope.expand(i), scope.apply(i)
    ctx = BuildContext(dir, dockerfile)             # .dockerignore; ctx.sources([...]); ctx.digest(...)
    Builder(engine, BuildOptions(...)).build(dir)   # the image (builder.py); Engine.build is the verb

Names are loaded on first use (PEP 562): a rebuild whose every step is cached (record.py)
reads the context and the cache without importing the parser at all.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("DOCKERIGNORE", "BuildContext", "ContextError", "Entry", "Ignore", "Source", "content_digest",
                     "read_ignore", "sources"), "context"),
    **dict.fromkeys(("Dockerfile", "InvalidStage", "Stage", "parse", "parse_trigger"), "dockerfile"),
    **dict.fromkeys(("SUBSTITUTING", "Add", "Arg", "Cmd", "Command", "Copy", "DockerfileError", "Entrypoint", "Env",
                     "Expander", "Expose", "From", "Healthcheck", "Heredoc", "InlineFile", "Instruction", "Label",
                     "Location", "Maintainer", "Mount", "Onbuild", "Run", "RunProcess", "Shell", "StopSignal", "User",
                     "Volume", "Workdir"), "instructions"),
    **dict.fromkeys(("LexError", "Lexer"), "lexer"),
    **dict.fromkeys(("IgnoreMatcher", "PatternError", "read_ignore_file"), "patterns"),
    **dict.fromkeys(("Base", "BuildPlan", "PlannedStage", "plan_build"), "stages"),
    **dict.fromkeys(("BUILDKIT_ARGS", "DEFAULT_PATH", "PLATFORM_ARGS", "PROXY_ARGS", "Platform", "Scope",
                     "automatic_args", "global_values", "host_platform"), "variables"),
    "Builder": "builder", "BuildOptions": "options",
    **dict.fromkeys(("BuildResult", "StepResult", "ImageState"), "result"),
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
