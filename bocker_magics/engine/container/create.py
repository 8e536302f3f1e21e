"""create: a container's bundle (its spec, its record, a created state); nothing runs yet."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from ...errors import Conflict, HostUnsupported, InvalidArgument, NotFound
from ..kernel import linux
from ..network import plan as network_plan
from ..options import RunOptions, Target, command_argv, parse_env, parse_mount, parse_restart, parse_volume, to_spec
from ..runtime.protocol import RestartPolicy
from ..spec import State
from ..store import check_container_name, write_json
from .record import Container, ContainerRecord
from .signals import signal_number

if TYPE_CHECKING:
    from ..images import Image
    from ..network.plan import NetworkPlan
    from .room import Room

# a namespace kind -> its file under /proc/PID/ns
NS_FILE = {"pid": "pid", "ipc": "ipc", "uts": "uts", "network": "net"}


def check_overlay() -> None:
    with open("/proc/filesystems") as f:
        if not any(line.split()[-1:] == ["overlay"] for line in f):
            raise HostUnsupported("No overlayfs on this host: load it with 'modprobe overlay' "
                                  "(kernel option CONFIG_OVERLAY_FS)")


def _volume_request(text: str):
    """The named volume a -v or --mount names, if it names one."""
    try:
        r = parse_mount(text) if "=" in text else parse_volume(text)
    except InvalidArgument:
        return None
    return r if r.kind == "volume" else None


def name_anonymous_volumes(options: RunOptions) -> tuple[RunOptions, list[str]]:
    """-v /path and volume mounts without a source: a volume made for this container alone,
    named as Docker names one (64 hex digits); `rm -v` and `--rm` remove it, named ones
    stay. Returns the options with those names given, and the names."""
    import dataclasses
    import secrets
    names: list[str] = []

    def named(text: str, mount: bool) -> str:
        try:
            r = parse_mount(text) if mount else parse_volume(text)
        except InvalidArgument:
            return text  # to_spec says what is wrong with it
        if r.kind != "volume" or r.source:
            return text
        names.append(secrets.token_hex(32))
        return f"source={names[-1]},{text}" if mount else f"{names[-1]}:{text}"

    volumes = [named(v, False) for v in options.volumes]
    mounts = [named(m, True) for m in options.mounts]
    if not names:
        return options, []
    return dataclasses.replace(options, volumes=volumes, mounts=mounts), names


def joins(rooms: Room, options: RunOptions) -> dict[str, str]:
    """--pid/--ipc/--uts/--network container:NAME -> kind -> that running container's id."""
    out = {}
    for kind, choice in (("pid", options.pid), ("ipc", options.ipc), ("uts", options.uts),
                         ("network", options.network)):
        if choice and choice.startswith("container:"):
            ref = choice.split(":", 1)[1]
            other = rooms.find(ref) if ref else None
            if other is None or not other.running:
                raise NotFound(f"--{kind} container:{ref}: no running container named '{ref}'")
            out[kind] = other.id
    return out


def _etc_files(rooms: Room, cid: str, mode: str, shared: dict[str, str]) -> dict[str, str]:
    """The /etc files the container mounts: its own, the network's container's, or none (host)."""
    cdir = rooms.store.container_dir(cid)
    if mode == "container":
        other = rooms.store.container_dir(shared["network"])
        return {n: str(other / n) for n in ("hosts", "hostname", "resolv.conf") if (other / n).exists()}
    etc = {} if mode == "host" else {"hosts": str(cdir / "hosts"), "hostname": str(cdir / "hostname")}
    etc["resolv.conf"] = str(cdir / "resolv.conf")
    return etc


def _stop_signal(options: RunOptions, config: dict[str, Any]) -> str:
    stop_signal = options.stop_signal or config.get("StopSignal") or "SIGTERM"
    try:
        signal_number(stop_signal)
    except InvalidArgument:
        raise InvalidArgument(f"Invalid stop signal '{stop_signal}' (--stop-signal or the image's StopSignal): "
                              "use a name like TERM, INT, QUIT, USR1 or a number") from None
    return stop_signal


def _record(cid: str, img: Image, text: str, options: RunOptions, plan: NetworkPlan, restart: RestartPolicy,
            shared: dict[str, str], volumes: list[str], anonymous: list[str]) -> ContainerRecord:
    return ContainerRecord(id=cid, name=options.name, image=img.id, image_name=(img.names or [img.id])[0],
                           layers=list(img.layers), command=text, created=time.time(), network=plan,
                           auto_remove=options.remove, restart=restart, stdin=options.interactive,
                           tty=options.tty, labels=dict(parse_env(options.labels)) if options.labels else {},
                           volumes=volumes, anonymous_volumes=anonymous,
                           stop_signal=_stop_signal(options, img.config or {}),
                           stop_timeout=10 if options.stop_timeout is None else options.stop_timeout,
                           joins=shared, healthcheck=healthcheck_of(options, img.config or {}),
                           aliases=list(options.network_aliases))


def healthcheck_of(options: RunOptions, config: dict[str, Any]) -> dict[str, Any] | None:
    """The image's HEALTHCHECK with --health-* over it (Docker's rule: each flag replaces its
    field); --no-healthcheck or a test of NONE: none."""
    from ..runtime.health import Healthcheck
    if options.no_healthcheck:
        return None
    base = Healthcheck.from_image(config.get("Healthcheck"))
    given = {k: v for k, v in options.health.items() if v is not None}
    if base is None and not given.get("test"):
        if given:
            raise InvalidArgument("--health-interval and the like need a check: give --health-cmd too "
                                  "(the image has no HEALTHCHECK)")
        return None
    fields = {**(base.to_json() if base is not None else {}), **given}
    if fields["test"][:1] == ["NONE"]:
        return None
    for key in ("interval", "timeout", "start_period"):
        if fields.get(key) is not None and fields[key] < 0:
            raise InvalidArgument(f"--health-{key.replace('_', '-')} can't be negative")
    if fields.get("retries") is not None and fields["retries"] < 0:
        raise InvalidArgument("--health-retries can't be negative")
    return Healthcheck(**fields).to_json()


def create(rooms: Room, img: Image, command: str | list[str] | None, options: RunOptions,
           ref: str | None = None) -> Container:
    """The bundle (spec, record, created state): nothing runs yet. `ref` is what named the
    stored image `img`; None: `img` is a build's step, which is no stored image yet."""
    check_overlay()
    if options.name is not None:
        check_container_name(options.name)
    if options.restart and options.remove and parse_restart(options.restart)[0] != "no":
        raise InvalidArgument("Conflicting options: --restart and --rm (a removed container can't restart)")
    restart = RestartPolicy(*parse_restart(options.restart))
    shared = joins(rooms, options)
    exposed = list((img.config or {}).get("ExposedPorts") or {}) if options.publish_all else []
    plan = network_plan.request(rooms.networks, options.network or rooms.default_network, options.publish,
                                options.dns, exposed=exposed, joins=shared, aliases=list(options.network_aliases),
                                ip=options.ip, more=list(options.more_networks))
    options, anonymous = name_anonymous_volumes(options)
    try:
        return _create(rooms, img, command, options, ref, restart, shared, plan, anonymous)
    except BaseException:
        from .removal import remove_anonymous_volumes
        remove_anonymous_volumes(rooms, anonymous)  # made by to_spec: a failed create keeps none
        raise


def _create(rooms: Room, img: Image, command: str | list[str] | None, options: RunOptions, ref: str | None,
            restart: RestartPolicy, shared: dict[str, str], plan: NetworkPlan, anonymous: list[str]) -> Container:
    store = rooms.store
    cid = store.new_container_id()
    cdir = store.container_dir(cid)
    volumes = [r.source for r in map(_volume_request, options.volumes + options.mounts) if r is not None]
    target = Target(cid, cdir, f"/{rooms.cgroup_parent}/{cid}", plan.mode, _etc_files(rooms, cid, plan.mode, shared),
                    layer_dirs=[store.layer_dir(d) for d in reversed(img.layers)],
                    volume_path=lambda name: rooms.volumes().ensure(name).mountpoint,
                    joins={k: f"/proc/{rooms.get(v).pid}/ns/{NS_FILE[k]}" for k, v in shared.items()})
    spec = to_spec(img, command, options, target, rooms.default_limits())
    text = " ".join(spec.process.args) if options.entrypoint is not None else command_argv(img.config or {},
                                                                                         command)[1]
    record = _record(cid, img, text, options, plan, restart, shared, volumes, anonymous)
    linux.pause_point("create")  # tests widen the window between finding the image and the lock
    with store.lock():
        if options.name is not None and rooms.find(options.name) is not None:
            raise Conflict(f"Container named '{options.name}' exists: remove it or choose another --name")
        # under the lock rmi decides in, so an image removed meanwhile is never used
        if ref is None:   # a build step's image, not stored: its layers must still be there
            if not all(store.layer_dir(d).is_dir() for d in img.layers):
                raise NotFound("A layer of the build step's image was removed meanwhile: build again")
        else:
            still = rooms.images.find(img.id)
            if still is None or still.layers != img.layers:
                raise NotFound(f"The image '{ref}' was removed meanwhile: pull or build it again")
        store.claim_container_dir(cid)
        try:
            spec.save(cdir / "config.json", fsync=False)
            write_json(cdir / "container.json", record.to_json(), fsync=False)
            State(id=cid, status="creating", bundle=str(cdir), phase="created",
                  created_at=record.created).save(cdir / "state.json", fsync=False)
        except BaseException:
            shutil.rmtree(cdir, ignore_errors=True)
            raise
    return rooms.load(cid)
