"""`network connect|disconnect`: a container joins or leaves a network after it was made.

    connect     created or stopped: the attachment recorded, plugged (eth1...) at its next start;
                running: an address leased, a veth plugged into its network namespace live (the
                lowest free ethN), the default route where Docker's rule puts it, its names
                answered on that network (dns.json, dnsd.sync)
    disconnect  the attachment dropped; running: its interface removed (the default route
                moved when it went through it), the lease given back, the names gone there

Each step registers its undo: a connect that fails leaves no lease, no veth, no record change.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ...errors import Conflict, InvalidArgument, NotFound
from ..network import plan as network_plan
from ..network.model import MAX_INTERFACES
from ..network.plan import Attachment
from ..store import write_json
from .status import Status

if TYPE_CHECKING:
    from .record import Container
    from .room import Room


def _hostname(rooms: Room, c: Container) -> str:
    with contextlib.suppress(Exception):
        return rooms.spec(c.id).hostname or c.id
    return c.id


def _check_mode(c: Container, network: str) -> None:
    mode = c.record.network.mode
    if mode != "bridge":
        what = {"none": "--network none", "host": "--network host", "container": "another container's network"}
        raise InvalidArgument(f"Container '{c.name or c.id}' runs with {what.get(mode, mode)}: it has no interface "
                              f"of its own to join '{network}' (create it with --network {network})")


def _netns(c: Container) -> str:
    return f"/proc/{c.pid}/ns/net"


def connect(rooms: Room, network: str, ref: str, aliases: list[str], ip: str | None = None) -> str:
    c = rooms.get(ref)
    if c.record is None:
        raise Conflict(f"Container '{ref}' is broken ({c.problem}): remove it")
    _check_mode(c, network)
    nets = rooms.networks()
    net = nets.ensure(network)  # NotFound: one line naming it; its bridge up when it was removed meanwhile
    if ip:
        nets.check_static(net, ip)
    synced = False
    with rooms.store.container_lock(c.id), rooms.store.lock():
        c = rooms.load(c.id)
        plan = c.record.network
        if plan.attachment(net.name) is not None:
            raise Conflict(f"endpoint with name {c.name or c.id} already exists in network {net.name}")
        if len(plan.attachments) >= MAX_INTERFACES:
            raise Conflict(f"Container '{c.name or c.id}' is on {MAX_INTERFACES} networks already, bocker's most")
        if c.starting or c.status is Status.RESTARTING:
            raise Conflict(f"Container '{c.name or c.id}' is {'starting' if c.starting else 'restarting'}: "
                           "connect it once it runs (or stop it first)")
        attachment = Attachment(net.name, [str(a) for a in aliases], ip or "")
        cdir = rooms.store.container_dir(c.id)
        if c.status.is_running:
            taken = {ep.ifname for ep in plan.endpoints}
            index = next(i for i in range(MAX_INTERFACES) if f"eth{i}" not in taken)
            address = nets.allocate(net, c.id, rooms.holds_lease, ip or None)
            attachment.lease = str(nets.dir / net.name / address)
            attachment.endpoint = network_plan.endpoint_for(net, c.id, address, index)
            try:
                nets.attach_live(attachment.endpoint, _netns(c), [*plan.endpoints, attachment.endpoint])
                plan.attachments.append(attachment)
                network_plan.write_leases(cdir, plan)
                write_json(cdir / "container.json", c.record.to_json(), fsync=False)
            except BaseException:
                plan.attachments = [a for a in plan.attachments if a is not attachment]
                with contextlib.suppress(Exception):
                    nets.detach_ifname(attachment.endpoint.host_ifname)
                nets.release(net.name, address, c.id)
                with contextlib.suppress(Exception):
                    network_plan.write_leases(cdir, plan)
                raise
            synced = network_plan.update_names(cdir, c.id, _hostname(rooms, c), [c.name] if c.name else [], plan)
        else:  # plugged at its next start
            plan.attachments.append(attachment)
            write_json(cdir / "container.json", c.record.to_json(), fsync=False)
    if synced:
        _sync_names(rooms)
    return c.id


def disconnect(rooms: Room, network: str, ref: str, force: bool = False) -> str:
    c = rooms.get(ref)
    if c.record is None:
        raise Conflict(f"Container '{ref}' is broken ({c.problem}): remove it")
    if c.record.network.mode != "bridge":
        raise InvalidArgument(f"container {c.name or c.id} is not connected to network {network}")
    synced = False
    with rooms.store.container_lock(c.id), rooms.store.lock():
        c = rooms.load(c.id)
        plan = c.record.network
        attachment = plan.attachment(network)
        if attachment is None:
            raise NotFound(f"container {c.name or c.id} is not connected to network {network}")
        if c.starting or c.status is Status.RESTARTING:
            raise Conflict(f"Container '{c.name or c.id}' is {'starting' if c.starting else 'restarting'}: "
                           "disconnect it once it runs (or stop it first)")
        cdir = rooms.store.container_dir(c.id)
        remaining = [a for a in plan.attachments if a is not attachment]
        ep = attachment.endpoint
        if ep is not None:
            nets = rooms.networks()
            if c.status.is_running:
                others = [a.endpoint for a in remaining if a.endpoint is not None]
                try:
                    nets.detach_live(ep, _netns(c), others)
                except Exception:
                    if not force:  # -f: off the record whatever the kernel says (Docker's stale endpoints)
                        raise
                    with contextlib.suppress(Exception):
                        nets.detach_ifname(ep.host_ifname)
            nets.release(ep.network, ep.address, c.id)
        plan.attachments = remaining
        network_plan.write_leases(cdir, plan)
        write_json(cdir / "container.json", c.record.to_json(), fsync=False)
        if c.status.is_running:
            synced = network_plan.update_names(cdir, c.id, _hostname(rooms, c), [c.name] if c.name else [], plan)
    if synced:
        _sync_names(rooms)
    return c.id


def _sync_names(rooms: Room) -> None:
    """The resolver reads the container's names again (started if none runs for the root)."""
    from ...errors import BockerError
    from ..network import dnsd
    if not dnsd.sync(rooms.store.root):
        raise BockerError("The name resolver of its networks did not answer: see "
                          f"{dnsd.daemon_dir(rooms.store.root) / 'daemon.log'}")
