"""The OCI runtime spec (its Linux part) as dataclasses, and the container state as a type.

A container's whole configuration is one `Spec`, the bundle's config.json: the engine
translates Docker-style options into it once and then executes only the spec; the runc-style
command line reads bundles with it. The reference is the runtime spec the Debian package
golang-github-opencontainers-specs-dev ships (1.0.2-dev, the version runc 1.1 reads): its
schema/config-schema.json, config-linux.json, defs*.json and state-schema.json.

    spec = Spec.from_json(text)             # any valid config.json; one clear line if not
    spec.process.user.uid                   # snake_case in Python, camelCase in the JSON
    spec.linux.resources.memory.limit = 64 << 20
    spec.set_paths()                        # ["process.args", "linux.resources.memory.limit", ...]
    spec.to_json()                          # a dict without the unset fields, validated

Conventions:
- An empty `Spec()` means "nothing set": every field's default is its JSON "absent" (None,
  "", False, [], {}), and the nested objects whose absence means nothing (process, root,
  linux, resources, memory, cpu, ...) are there, empty, so `spec.linux.resources.cpu.shares`
  always works. Objects whose mere presence means something are None until given:
  `process.capabilities` ({} drops every capability; absent leaves them alone), `linux.seccomp`,
  `linux.intelRdt`, `linux.personality`, `process.consoleSize`.
- As in the spec's Go types (omitempty), an empty list or string equals an absent one.
- Errors and set_paths() name fields by their JSON paths ("linux.resources.memory.limit"),
  as the user reads them in config.json.
- Keys the model does not know (other platforms, newer spec fields) are kept in each object's
  `unknown` dict and written back, so a round trip loses nothing; set_paths() reports them.
- Validation is ours: types, required fields, ranges, the spec's enumerations and a few
  MUSTs of its text; `from_json` and `to_json` both run it (tests check the result against
  the JSON schema too). Two deliberate differences from the Debian schema, both newer spec
  versions' and real tools' behaviour: the `time` namespace and `linux.timeOffsets`
  (runtime-spec 1.1), and a device's `fileMode` up to 2**32-1 (podman writes the st_mode,
  e.g. 8630 = 0o20666, above the old schema's maximum of 512).

Stdlib only and cheap to import: the shim (`python -I -S`) imports it. The field tables
behind (de)serialisation are built on first use, not at import.

The package: model.py (what every class stands on: `_Model`, `_f()`, the enumerations, ranges
and patterns), process.py, resources.py (linux.resources), linux.py (the rest of `linux`),
config.py (`Spec`, its root, mounts and hooks; default_spec), state.py (`State`), codec.py
(JSON <-> objects, and the one validator). Import from the package: `from ..spec import Spec`.
"""

from __future__ import annotations

from ..fileio import atomic_write  # noqa: F401  (the one atomic write: Spec.save, State.save)
from . import codec as _codec
from .codec import (  # noqa: F401
    object_json,
    read_object,
)
from .config import (  # noqa: F401
    Hook,
    Hooks,
    Mount,
    Root,
    Spec,
    default_spec,
)
from .linux import (  # noqa: F401
    Device,
    IDMapping,
    IntelRdt,
    Linux,
    Namespace,
    Personality,
    Seccomp,
    SeccompArg,
    Syscall,
    TimeOffset,
)
from .model import (  # noqa: F401
    ARG_INDEX,
    DEVICE_RULE_TYPES,
    DEVICE_TYPES,
    I64,
    MISSING,
    NAMESPACE_TYPES,
    OCI_VERSION,
    OOM_SCORE_ADJ,
    PERSONALITY_DOMAINS,
    PHASES,
    RLIMIT_TYPES,
    ROOTFS_PROPAGATIONS,
    SECCOMP_ACTIONS,
    SECCOMP_ARCHES,
    SECCOMP_FLAGS,
    SECCOMP_OPERATORS,
    STATUSES,
    TIME_CLOCKS,
    TIMEOUT,
    U16,
    U32,
    U64,
    _ACCESS,
    _CAPABILITY,
    _MEM_BW_SCHEMA,
    _OCI_VERSION,
    _PAGE_SIZE,
    _f,
    _Model,
    _model,
    _unknown,
)
from .process import (  # noqa: F401
    Box,
    Capabilities,
    Process,
    Rlimit,
    User,
)
from .resources import (  # noqa: F401
    CPU,
    BlockIO,
    DeviceRule,
    HugepageLimit,
    InterfacePriority,
    Memory,
    Network,
    Pids,
    Rdma,
    Resources,
    ThrottleDevice,
    WeightDevice,
)
from .state import (  # noqa: F401
    State,
)

# The names the fields' annotations use (they are text, under `from __future__ import
# annotations`): every class of the model, resolved on first (de)serialisation.
_codec._NAMES.update({name: value for name, value in globals().items()
                      if isinstance(value, type) and issubclass(value, _Model)})
