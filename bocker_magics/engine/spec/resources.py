"""linux.resources: the cgroup limits (memory, cpu, pids, block I/O, huge pages, network,
rdma) and the devices policy, as the cgroup drivers (kernel/cgroups) apply them."""

from __future__ import annotations

from .model import _ACCESS, _PAGE_SIZE, DEVICE_RULE_TYPES, I64, U16, U32, U64, _f, _Model, _model, _unknown


@_model
class DeviceRule(_Model):
    """An allow or deny rule of the devices cgroup (None major/minor: any)."""

    allow: bool = _f(False, required=True)
    type: str = _f("", enum=DEVICE_RULE_TYPES, noun="a device rule type")
    major: int | None = _f(range=I64)
    minor: int | None = _f(range=I64)
    access: str = _f("", pattern=_ACCESS)
    unknown: dict[str, object] = _unknown()


@_model
class Memory(_Model):
    limit: int | None = _f(range=I64)
    reservation: int | None = _f(range=I64)
    swap: int | None = _f(range=I64)
    kernel: int | None = _f(range=I64)
    kernel_tcp: int | None = _f(json="kernelTCP", range=I64)
    swappiness: int | None = _f(range=U64)
    disable_oom_killer: bool | None = _f(json="disableOOMKiller")
    use_hierarchy: bool | None = _f()
    check_before_update: bool | None = _f()
    unknown: dict[str, object] = _unknown()


@_model
class CPU(_Model):
    shares: int | None = _f(range=U64)
    quota: int | None = _f(range=I64)
    burst: int | None = _f(range=U64)
    period: int | None = _f(range=U64)
    realtime_runtime: int | None = _f(range=I64)
    realtime_period: int | None = _f(range=U64)
    cpus: str = _f("")
    mems: str = _f("")
    idle: int | None = _f(range=I64)
    unknown: dict[str, object] = _unknown()


@_model
class Pids(_Model):
    limit: int | None = _f(range=I64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class WeightDevice(_Model):
    major: int = _f(0, range=I64, required=True)
    minor: int = _f(0, range=I64, required=True)
    weight: int | None = _f(range=U16)
    leaf_weight: int | None = _f(range=U16)
    unknown: dict[str, object] = _unknown()


@_model
class ThrottleDevice(_Model):
    major: int = _f(0, range=I64, required=True)
    minor: int = _f(0, range=I64, required=True)
    rate: int = _f(0, range=U64, always=True)
    unknown: dict[str, object] = _unknown()


@_model
class BlockIO(_Model):
    weight: int | None = _f(range=U16)
    leaf_weight: int | None = _f(range=U16)
    weight_device: list[WeightDevice] = _f(factory=list)
    throttle_read_bps_device: list[ThrottleDevice] = _f(factory=list)
    throttle_write_bps_device: list[ThrottleDevice] = _f(factory=list)
    throttle_read_iops_device: list[ThrottleDevice] = _f(factory=list, json="throttleReadIOPSDevice")
    throttle_write_iops_device: list[ThrottleDevice] = _f(factory=list, json="throttleWriteIOPSDevice")
    unknown: dict[str, object] = _unknown()


@_model
class HugepageLimit(_Model):
    page_size: str = _f("", required=True, pattern=_PAGE_SIZE)
    limit: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class InterfacePriority(_Model):
    name: str = _f("", required=True)
    priority: int = _f(0, range=U32, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class Network(_Model):
    class_id: int | None = _f(json="classID", range=U32)
    priorities: list[InterfacePriority] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Rdma(_Model):
    hca_handles: int | None = _f(range=U32)
    hca_objects: int | None = _f(range=U32)
    unknown: dict[str, object] = _unknown()


@_model
class Resources(_Model):
    devices: list[DeviceRule] = _f(factory=list)
    memory: Memory = _f(factory=Memory)
    cpu: CPU = _f(factory=CPU)
    pids: Pids = _f(factory=Pids)
    block_io: BlockIO = _f(factory=BlockIO, json="blockIO")
    hugepage_limits: list[HugepageLimit] = _f(factory=list)
    network: Network = _f(factory=Network)
    rdma: dict[str, Rdma] = _f(factory=dict)  # by device name
    unified: dict[str, str] = _f(factory=dict)  # cgroup v2 file -> value
    unknown: dict[str, object] = _unknown()
