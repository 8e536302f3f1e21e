"""Docker-style run options -> the OCI runtime spec, in one place (as runc's specconv and
moby's daemon/oci_linux.go do). Below this module nothing knows Docker's flags: the
monitor and pid 1 execute only the spec.

    options = RunOptions(memory=64 << 20, env=["A=1"], volumes=["/srv:/data:ro"])
    spec = to_spec(image, command, options, Target(id, bundle, cgroups_path, network_mode))

The package: run_options.py (RunOptions, Target, the fixed lists), flags.py (each flag's own
parser: -v, --mount, --tmpfs, --ulimit, --sysctl, --restart, -e, ...), specconv.py (to_spec and
its named steps: process, seccomp, mounts, namespaces, resources).
"""

from __future__ import annotations

from .flags import (  # noqa: F401
    MAX_ARG,
    MountRequest,
    check_arguments,
    check_hostname,
    check_sysctl,
    command_argv,
    parse_env,
    parse_mount,
    parse_restart,
    parse_tmpfs,
    parse_ulimit,
    parse_volume,
)
from .run_options import (  # noqa: F401
    DEFAULT_PATH,
    INIT_PATH,
    KERNEL_PATHS,
    MASKED_PATHS,
    NAMESPACED_SYSCTL_KEYS,
    NAMESPACED_SYSCTLS,
    READONLY_PATHS,
    RESTART_POLICIES,
    SECCOMP_UNCONFINED,
    TINI,
    ULIMITS,
    RunOptions,
    Target,
    check_destination,
)
from .specconv import (  # noqa: F401
    check_hostname_option,
    default_mounts,
    mount_requests,
    swap_accounting,
    to_spec,
)
