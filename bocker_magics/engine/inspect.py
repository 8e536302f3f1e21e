"""`inspect`: a container's or an image's whole record as JSON-ready data. A container's
shows its spec (config.json) as it runs, its state, and what the engine made for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from .container.status import Status

if TYPE_CHECKING:
    from .container import Containers
    from .images import ImageStore


def inspect(containers: Containers, images: ImageStore, ref: str) -> dict[str, Any]:
    c = containers.find(ref) if not ref.startswith("img_") else None
    if c is not None:
        return container(containers, c)
    img = images.find(ref)
    if img is None:
        raise NotFound(f"No container or image named '{ref}' exists")
    return {**img.to_json(), "LayerDirs": [str(p) for p in images.layer_paths(img)]}


def container(containers: Containers, c) -> dict[str, Any]:
    cdir = containers.store.container_dir(c.id)
    out: dict[str, Any] = {"Id": c.id, "Name": c.name, "Created": c.created, "Image": c.image,
                           "ImageName": c.image_name, "Command": c.command, "Status": c.status_text}
    if c.status is Status.BROKEN:
        out["Problem"] = c.problem
        return out
    state = c.state
    record = c.record
    out["State"] = {"Status": c.status.value, "Running": c.running, "Paused": c.status is Status.PAUSED,
                    "Restarting": c.status is Status.RESTARTING, "Pid": c.pid, "ExitCode": c.exit_code,
                    "OOMKilled": c.oom_killed, "StartedAt": c.started_at, "FinishedAt": c.finished_at,
                    "RestartCount": state.restart_count, "Error": state.error or None}
    health = c.health_record()
    if health is not None:  # Docker's State.Health: status, failing streak, the last results
        out["State"]["Health"] = health.to_docker()
    try:
        spec = containers.spec(c.id)
        out["Spec"] = spec.to_json()
        res = spec.linux.resources
        out["Limits"] = {"memory": res.memory.limit, "cpu_shares": res.cpu.shares,
                         "cpus": (res.cpu.quota / (res.cpu.period or 100000)) if res.cpu.quota else None,
                         "pids": res.pids.limit}
        caps = spec.process.capabilities
        out["Capabilities"] = [n.removeprefix("CAP_") for n in (caps.bounding if caps else [])]
        out["Privileged"] = not spec.linux.masked_paths and spec.linux.seccomp is None
        out["Mounts"] = ([{"Type": "overlay", "Destination": "/", "LowerDirs":
                           [str(containers.store.layer_dir(d)) for d in reversed(record.layers)],
                           "UpperDir": str(cdir / "upper"), "WorkDir": str(cdir / "work")}]
                         + [{"Type": "bind", "Source": m.source, "Destination": m.destination,
                             "ReadOnly": "ro" in m.options}
                            for m in spec.mounts if m.type == "bind" and not m.destination.startswith("/etc/")])
    except Exception as e:  # a broken config.json: show what is known
        out["Spec"] = {"error": str(e)}
    out["Cgroup"] = {"Driver": state.cgroup_driver or None, "Paths": dict(state.cgroup)}
    out["Network"] = network(c)
    out["Layers"] = list(record.layers)
    out["LogPath"] = str(cdir / "log")
    out["Config"] = record.to_json()
    out["StateFile"] = state.to_json()
    return out


def network(c) -> dict[str, Any]:
    from .network.model import endpoint_id
    plan = c.record.network
    ep = plan.endpoint
    return {"Mode": plan.mode, "Network": plan.name, "Interface": ep.ifname if ep else None,
            "Address": ep.address if ep else None, "PrefixLen": ep.prefixlen if ep else None,
            "Gateway": ep.gateway if ep else None, "MacAddress": ep.mac if ep else None,
            "HostVeth": ep.host_ifname if ep else None, "NetnsInode": c.state.netns if c.state else None,
            "Ports": [f"{p.host_ip}:{p.host_port}->{p.container_port}/{p.proto}" for p in plan.publish],
            # every network it is attached to (the first as above): its interface there once started
            "Networks": {a.network: {"Aliases": list(a.aliases), "IPAMConfig": {"IPv4Address": a.ip} if a.ip else None,
                                     "Interface": a.endpoint.ifname if a.endpoint else None,
                                     "Address": a.endpoint.address if a.endpoint else None,
                                     "PrefixLen": a.endpoint.prefixlen if a.endpoint else None,
                                     "Gateway": (a.endpoint.gateway or None) if a.endpoint else None,
                                     "MacAddress": a.endpoint.mac if a.endpoint else None,
                                     "HostVeth": a.endpoint.host_ifname if a.endpoint else None,
                                     "EndpointID": endpoint_id(c.id, a.network) if a.endpoint else None}
                         for a in plan.attachments}}
