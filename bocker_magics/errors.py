"""One error hierarchy for the whole toolkit.

A :class:`BockerError` is a user-facing problem: its message is one line that says what
to do, and the CLI prints it without a traceback and exits non-zero. Anything else is a bug.
"""


class BockerError(Exception):
    """A user mistake or an unmet precondition: one clear line, non-zero exit."""

    exit_code = 1


class NotFound(BockerError):
    """No such image or container (the seed's `No image named 'X' exists`)."""


class Conflict(BockerError):
    """A name that is taken, a running container that needs -f, ..."""


class InvalidArgument(BockerError):
    """A value that can never work: a bad limit, a name with '/', a missing directory."""


class UsageError(InvalidArgument):
    """A command line that does not parse (an unknown option, a missing argument): exit 2, as
    argparse and Docker's CLI give."""

    exit_code = 2


class HostUnsupported(BockerError):
    """The host lacks something the engine needs (root, overlayfs, cgroups)."""


class ContainerStartError(BockerError):
    """The container could not be started; the host was left as it was."""


class MonitorDied(BockerError):
    """A container's monitor was killed (kill -9): what it left stays for `bocker gc`."""


class StartFailure(ContainerStartError):
    """The start failed with `code` as the exit status a shell would give (125: the
    runtime's fault, 126: not executable, 127: not found). Raised in a container's monitor and
    its pid 1; the engine raises it as ExitCodeError (126, 127) or ContainerStartError."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, code

    @property
    def code(self) -> int:
        return self.exit_code


class RootfsError(StartFailure):
    """A root that can't be prepared (a mount, /dev, pivot_root)."""


class ProcessError(StartFailure):
    """A step of the container's process that failed (its user, limits, program)."""


class HookError(StartFailure):
    """An OCI hook that failed or ran past its timeout."""


class ExitCodeError(BockerError):
    """A container start that failed the way a shell would: the code is the shell's
    (126: not executable, 127: not found)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


# -- images and registries
class RegistryError(BockerError):
    """The registry said no, or sent something that fails verification."""


class AuthError(RegistryError):
    """Credentials missing or refused (401/403): never retried."""


class DigestMismatch(RegistryError):
    """A blob or manifest whose bytes are not what its digest says."""


class BadDigest(RegistryError, InvalidArgument):
    """A digest that is not sha256:<64 hex> (`sha256:../x` must never become a path or URL)."""


class LayerError(InvalidArgument):
    """A layer tar that is malformed or tries to write outside its layer."""


# -- builds
class DockerfileError(InvalidArgument):
    """A mistake in a Dockerfile: one line, `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.reason = file, line, message
        super().__init__(f"{file}:{line}: {message}")


class ContextError(InvalidArgument):
    """A COPY/ADD source that isn't in the build context, or leaves it."""


class BuildError(BockerError):
    """A build that can't go on (a step refused, a base image missing): one line."""


class BuildStepFailed(BuildError):
    """A RUN step whose command failed: the build stops with that command's exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code if 0 < code < 256 else 1
