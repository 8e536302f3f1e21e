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
