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


class HostUnsupported(BockerError):
    """The host lacks something the engine needs (root, overlayfs, cgroups)."""


class ContainerStartError(BockerError):
    """The container could not be started; the host was left as it was."""


class MonitorDied(BockerError):
    """A container's monitor was killed (kill -9): what it left stays for `bocker gc`."""


class StartFailure(ContainerStartError):
    """Raised inside a container's monitor: the start failed with `code` as the exit status
    a shell would give (125 the runtime's fault, 126 not executable, 127 not found)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, code

    @property
    def code(self) -> int:
        return self.exit_code


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
