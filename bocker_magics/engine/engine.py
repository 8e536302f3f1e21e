"""The engine API: the one place every feature lives. The CLI and the magics are faces of it.

    engine = Engine()                       # BOCKER_ROOT or /var/lib/bocker
    img = engine.busybox()                  # the built-in image, made offline
    result = engine.run(img.id, "echo hi")  # RunResult(id=…, exit_code=0, output=b"hi\\n", …)
    engine.ps(); engine.logs(result.id); engine.rm(result.id)
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import BockerError, Conflict, ContainerStartError, HostUnsupported, InvalidArgument, NotFound
from .kernel import capabilities, linux
from .kernel.cgroups import CgroupStats, Limits, detect
from .changes import Change, changes
from .images import BUSYBOX_NAME, Image, ImageStore
from .runtime.launcher import Launcher
from .network import host_ifname
from .store import CONTAINER_PREFIX, Store, check_container_name, is_id, read_json, write_json

MB = 1_000_000
MONITOR_DIED: dict[str, Any] = {"event": "failed", "message": "the monitor died", "code": 255}
# The seed's defaults: --MEM_LIMIT=512 (MB) and --CPU_SHARE=512.
SEED_LIMITS = Limits(memory=512 * MB, cpu_shares=512)


@dataclass
class Container:
    """A container as `ps` and `inspect` see it: its config and its state, merged."""

    id: str
    name: str | None
    image: str
    image_name: str
    command: str
    created: float
    status: str                  # created | running | exited | failed | dead
    exit_code: int | None = None
    oom_killed: bool = False
    pid: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status_text(self) -> str:
        if self.status == "exited":
            return "oom-killed" if self.oom_killed else f"exited ({self.exit_code})"
        if self.status == "failed":
            return f"failed ({self.exit_code})"
        return self.status

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass
class RunResult:
    id: str
    exit_code: int
    output: bytes
    duration: float
    oom_killed: bool = False

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


class ExitCodeError(BockerError):
    """A container start that failed the way a shell would: the code is the shell's."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


def _signal_number(sig: str | int) -> int:
    if isinstance(sig, int) or str(sig).isdigit():
        num = int(sig)
        if num in signal.valid_signals():
            return num
    else:
        name = str(sig).upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if hasattr(signal.Signals, name):
            return int(signal.Signals[name])
    raise InvalidArgument(f"Invalid signal '{sig}': use a name like TERM, KILL, HUP or a number")


def _pid_alive(pid: int | None, start: int | None) -> bool:
    """True if `pid` is still the process that started at `start` (pids get reused)."""
    return bool(pid) and start is not None and linux.process_start_time(pid) == start


def _parse_env(env: dict[str, str] | list[str] | None) -> dict[str, str]:
    """-e KEY=VALUE items (or a dict) checked: a key, no NUL."""
    items = env.items() if isinstance(env, dict) else (
        tuple(e.split("=", 1)) if "=" in e else (e, None) for e in env or [])
    out = {}
    for key, value in items:
        if not key or value is None or "\0" in key + value:
            raise InvalidArgument(f"Invalid environment variable '{key}': use -e KEY=VALUE")
        out[key] = value
    return out


def _check_overlay() -> None:
    with open("/proc/filesystems") as f:
        if not any(line.split()[-1:] == ["overlay"] for line in f):
            raise HostUnsupported("No overlayfs on this host: load it with 'modprobe overlay' "
                                  "(kernel option CONFIG_OVERLAY_FS)")


class Engine:
    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 cgroup_parent: str | None = None, default_limits: Limits = SEED_LIMITS,
                 default_network: str | None = None) -> None:
        self._check_host()
        self.store = Store(root)
        self.images_store = ImageStore(self.store)
        self.cgroup_parent = cgroup_parent or os.environ.get("BOCKER_CGROUP_PARENT") or "bocker"
        self.default_limits = default_limits
        self._launcher = Launcher()
        self._boot_id = linux.boot_id()
        self.default_network = default_network or os.environ.get("BOCKER_NETWORK") or "bridge"
        from .network import Networks
        self.networks = Networks(self.store)

    @staticmethod
    def _check_host() -> None:
        if os.geteuid() != 0:
            raise HostUnsupported("bocker needs root: run it with sudo (namespaces, mounts and cgroups are root's)")

    def close(self) -> None:
        self._launcher.close()
        self.networks.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # == images ============================================================================
    def init(self, directory: str | os.PathLike[str], name: str | None = None) -> Image:
        """`bocker init DIR`: an image of one layer, a copy of DIR."""
        return self.images_store.init_from_dir(directory, [name] if name else [])

    def busybox(self) -> Image:
        """The built-in image (name `busybox`), made from the host's static busybox."""
        return self.images_store.busybox()

    def images(self) -> list[Image]:
        return self.images_store.list()

    def image(self, ref: str) -> Image:
        """An image by id or name; `busybox` is made on first use, like a pull."""
        img = self.images_store.find(ref)
        if img is None and ref in ("busybox", BUSYBOX_NAME):
            return self.busybox()
        if img is None:
            raise NotFound(f"No image named '{ref}' exists")
        return img

    def rmi(self, ref: str) -> str:
        img = self.images_store.get(ref)
        in_use = any(c.image == img.id for c in self.ps())
        self.images_store.remove(img, in_use=in_use)
        return img.id

    # -- registries and archives (transfer.py, archive.py, registry.py) -------------------
    def _registry_client(self, registry: str, insecure: bool):
        from .distribution.registry import RegistryClient
        from .distribution.credentials import docker_config_paths, find_credentials
        creds = find_credentials(registry, [self.store.auth_file, *docker_config_paths()])
        return RegistryClient(registry, insecure=insecure, credentials=creds)

    def pull(self, ref: str, tag: str | None = None, *, insecure: bool = False,
             platform: str | None = None, progress: "Callable[[Any], None] | None" = None) -> Image:
        """`bocker pull NAME TAG` (the seed's form) or `pull [registry/]repo[:tag|@digest]`.
        `progress` gets a registry.Progress per layer event (a bar, a widget)."""
        from .distribution.oci import Platform
        from .distribution.reference import parse_reference
        from .distribution.transfer import Puller
        reference = parse_reference(ref, tag)
        client = self._registry_client(reference.registry, insecure)
        try:
            return Puller(self.store, self.images_store, client, progress).pull(
                reference, Platform.parse(platform) if platform else None)
        finally:
            client.close()

    def push(self, image: str, ref: str | None = None, *, insecure: bool = False,
             progress: "Callable[[Any], None] | None" = None) -> str:
        """Upload an image (its layers, an OCI config and manifest) as `ref` (default: the
        image's own name); returns `ref@sha256:…`."""
        from .distribution.reference import parse_reference
        from .distribution.transfer import Pusher
        img = self.image(image)
        if ref is None:
            if not img.names:
                raise InvalidArgument(f"Image '{image}' has no name to push as: give one, e.g. "
                                      "push IMAGE 127.0.0.1:5000/name:tag")
            ref = img.names[0]
        reference = parse_reference(ref)
        client = self._registry_client(reference.registry, insecure)
        try:
            digest = Pusher(self.store, client, progress).push(img, reference)
        finally:
            client.close()
        return f"{reference}@{digest}"

    def login(self, registry: str, username: str, password: str, *, insecure: bool = False) -> str:
        """Check credentials against a registry and keep them (BOCKER_ROOT/auth.json, 0600)."""
        from .distribution.registry import RegistryClient
        from .distribution.reference import parse_reference
        from .distribution.credentials import save_credentials
        host = parse_reference(f"{registry}/x").registry if registry else parse_reference("x").registry
        client = RegistryClient(host, insecure=insecure, credentials=(username, password))
        try:
            resp = client.request("GET", "/v2/", scope="", what="/v2/")
            resp.read()
        finally:
            client.close()
        save_credentials(self.store.auth_file, host, username, password)
        return host

    def save(self, image: str, path: str | os.PathLike[str], format: str = "docker") -> Path:
        """Write an image as a docker-save tarball (format 'docker') or an OCI image layout
        ('oci': a tar, or a directory when `path` is one or ends with '/')."""
        from .distribution.archive import save
        return save(self.store, self.image(image), path, format)

    def load(self, path: str | os.PathLike[str]) -> list[Image]:
        """Images from a docker-save tarball or an OCI image layout (a tar or a directory)."""
        from .distribution.archive import load
        return load(self.store, self.images_store, Path(path))

    # == containers ========================================================================
    def run(self, image: str, command: str | list[str] | None = None, *,
            name: str | None = None, hostname: str | None = None,
            env: dict[str, str] | list[str] | None = None, workdir: str | None = None,
            volumes: list[str] | None = None, limits: Limits | None = None,
            detach: bool = False, remove: bool = False, cap_add: list[str] | None = None,
            cap_drop: list[str] | None = None, privileged: bool = False,
            network: str | None = None, publish: list[str] | None = None, dns: list[str] | None = None,
            on_output: Callable[[bytes], None] | None = None, capture: bool = True,
            on_start: Callable[[str], None] | None = None) -> RunResult:
        """Run a container. Foreground: stream output to `on_output` (and keep it, if
        `capture`), return when it exits. Detached: return as soon as it runs.
        `on_start(id)` is called once the container runs (a monitor samples its cgroup)."""
        t0 = time.perf_counter()
        _check_overlay()
        img = self.image(image)
        config = self._container_config(img, command, name, hostname, env, workdir, volumes,
                                        self.default_limits if limits is None else limits)
        config["capabilities"] = capabilities.resolve(cap_add or [], cap_drop or [], privileged)
        config["privileged"] = privileged
        mode, net, ports, resolv = self._network_plan(network or self.default_network, publish or [], dns)
        with self.store.lock():
            if name is not None and self._find(name) is not None:
                raise Conflict(f"Container named '{name}' exists: remove it or choose another --name")
            cid, cdir = self.store.new_container_dir()
            config["id"] = cid
            config["hostname"] = config["hostname"] or cid
            try:
                config["network"] = self._plug(cid, cdir, config["hostname"], mode, net, ports, resolv)
            except BaseException:
                shutil.rmtree(cdir, ignore_errors=True)
                raise
            write_json(cdir / "config.json", config, fsync=False)
            me = os.getpid()
            write_json(cdir / "state.json", {"status": "created", "creator_pid": me,
                                             "creator_start": linux.process_start_time(me)}, fsync=False)
        linux.crash_point("created")
        try:
            return self._start(cid, cdir, config, img, detach, remove, on_output, capture, t0, on_start)
        except BaseException:
            # a start that failed before its monitor ran: nothing but the directory exists
            if (cdir / "state.json").exists() and self._load(cid).state.get("status") == "created":
                self._release(cid, config)
                shutil.rmtree(cdir, ignore_errors=True)
            raise

    # -- networking ------------------------------------------------------------------------
    def _network_plan(self, network: str, publish: list[str], dns: list[str] | None):
        """Checks made before anything exists: the network (its bridge and NAT made if
        missing), the published ports free, the resolv.conf to use."""
        from .network import check_port_free, parse_publish, resolv_conf
        ports = [parse_publish(p) for p in publish]
        if ports and network in ("none", "host"):
            raise InvalidArgument(f"-p needs a bridge network: with --network {network} the "
                                  "container's ports are " + ("the host's" if network == "host" else "unreachable"))
        for ip, hport, _, _ in ports:
            check_port_free(ip, hport)
        resolv = resolv_conf(dns)
        if network in ("none", "host"):
            return network, None, ports, resolv
        return "bridge", self.networks.ensure(network), ports, resolv

    def _plug(self, cid: str, cdir: Path, hostname: str, mode: str, net, ports, resolv: str) -> dict[str, Any]:
        """The container's address (a lease) and its /etc files; the interface itself is made
        when its network namespace exists (_start)."""
        from .network import Endpoint, host_ifname, hosts_file, mac_for
        endpoint = None
        lease = None
        if net is not None:
            address = self.networks.allocate(net, cid, self._holds_lease)
            lease = str(self.networks.dir / net.name / address)
            endpoint = Endpoint(net.name, net.bridge, address, net.prefixlen, net.gateway, mac_for(address),
                                host_ifname(cid))
        files = {}
        if mode != "host":
            (cdir / "hosts").write_text(hosts_file(hostname, endpoint.address if endpoint else None))
            (cdir / "hostname").write_text(hostname + "\n")
            files = {"hosts": str(cdir / "hosts"), "hostname": str(cdir / "hostname")}
        (cdir / "resolv.conf").write_text(resolv)
        files["resolv.conf"] = str(cdir / "resolv.conf")
        return {"mode": mode, "name": net.name if net else mode, "endpoint": asdict(endpoint) if endpoint else None,
                "publish": [[ip, h, c] for ip, h, c, _ in ports], "files": files, "lease": lease}

    @staticmethod
    def _network_info(c: "Container") -> dict[str, Any]:
        net = c.config.get("network") or {"mode": "none"}
        ep = net.get("endpoint") or {}
        return {"Mode": net["mode"], "Network": net.get("name"), "Interface": ep.get("ifname"),
                "Address": ep.get("address"), "PrefixLen": ep.get("prefixlen"), "Gateway": ep.get("gateway"),
                "MacAddress": ep.get("mac"), "HostVeth": ep.get("host_ifname"),
                "NetnsInode": c.state.get("netns"),
                "Ports": [f"{ip}:{h}->{cport}/tcp" for ip, h, cport in net.get("publish", [])]}

    def _holds_lease(self, cid: str) -> bool:
        """Whether a lease's owner may still use its address (else the lease is reclaimed)."""
        try:
            return self._load(cid).status in ("created", "running")
        except NotFound:
            return False

    def _release(self, cid: str, config: dict[str, Any]) -> None:
        ep = (config.get("network") or {}).get("endpoint")
        if ep:
            self.networks.release(ep["network"], ep["address"], cid)

    def _container_config(self, img: Image, command: str | list[str] | None, name: str | None,
                          hostname: str | None, env: dict[str, str] | list[str] | None,
                          workdir: str | None, volumes: list[str] | None, limits: Limits) -> dict[str, Any]:
        if name is not None:
            check_container_name(name)
        if hostname is not None and not (0 < len(hostname) <= 64 and all(c.isalnum() or c in "-." for c in hostname)):
            raise InvalidArgument(f"Invalid hostname '{hostname}': letters, digits, '-' and '.', at most 64")
        limits.validate()
        if command is None or command == [] or command == "":
            # no command: the image's own, as Docker runs it (Entrypoint, then Cmd)
            argv = list(img.config.get("Entrypoint") or []) + list(img.config.get("Cmd") or [])
            argv = argv or ["sh"]
            cmd_text = " ".join(argv)
        else:
            cmd_text = command if isinstance(command, str) else " ".join(command)
            argv = ["/bin/sh", "-c", cmd_text]  # the seed's semantics: words joined, run by sh
        environment = dict(e.split("=", 1) for e in img.config.get("Env", []))
        environment.update(_parse_env(env))
        environment.setdefault("HOME", "/root")
        if workdir is not None and (not workdir.startswith("/") or "\0" in workdir):
            raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
        return {
            "name": name, "image": img.id, "image_name": (img.names or [img.id])[0],
            "layers": list(img.layers), "command": cmd_text, "argv": argv,
            "hostname": hostname, "env": [f"{k}={v}" for k, v in environment.items()],
            "workdir": workdir or img.config.get("WorkingDir") or "/",
            "volumes": [self._parse_volume(v) for v in volumes or []],
            "limits": asdict(limits), "created": time.time(), "network": "none",
        }

    @staticmethod
    def _parse_volume(spec: str) -> list[Any]:
        parts = spec.split(":")
        if len(parts) == 3 and parts[2] in ("ro", "rw"):
            host, ctr, mode = parts
        elif len(parts) == 2:
            (host, ctr), mode = parts, "rw"
        else:
            raise InvalidArgument(f"Invalid volume '{spec}': use -v HOSTDIR:CTRDIR[:ro]")
        if not host.startswith("/") or not ctr.startswith("/") or "\0" in spec or "," in spec:
            raise InvalidArgument(f"Invalid volume '{spec}': both paths must be absolute")
        if not os.path.exists(host):
            raise NotFound(f"No directory named '{host}' exists (volume '{spec}')")
        return [os.path.realpath(host), os.path.normpath(ctr), mode == "ro"]

    def _start(self, cid: str, cdir: Path, config: dict[str, Any], img: Image, detach: bool,
               remove: bool, on_output: Callable[[bytes], None] | None, capture: bool, t0: float,
               on_start: Callable[[str], None] | None = None) -> RunResult:
        request = {
            "id": cid, "container_dir": str(cdir), "layers_dir": str(self.store.layers),
            "lowerdirs": [self.store.layer_dir(d).name for d in reversed(img.layers)],
            "volumes": config["volumes"], "hostname": config["hostname"], "env": config["env"],
            "workdir": config["workdir"], "argv": config["argv"], "limits": config["limits"],
            "cgroup_parent": self.cgroup_parent, "boot_id": self._boot_id,
            "capabilities": config["capabilities"], "privileged": config["privileged"],
            "network": config["network"],
        }
        plug = None
        ep = (config["network"] or {}).get("endpoint")
        if ep:
            # The container's network namespace is made now and its interface plugged in on
            # the netlink thread while the shim starts the container, which joins it.
            from .network import Endpoint
            ns_fd, inside = self.networks.new_namespace()
            launch_fd = os.dup(ns_fd)  # attach_async owns (and closes) ns_fd and the socket
            plug = self.networks.attach_async(Endpoint(**ep), ns_fd, inside)
            try:
                ctl, out_r, event = self._launch(request, attach=not detach, netns_fd=launch_fd)
            except BaseException:
                with contextlib.suppress(Exception):
                    plug.result()
                raise
            finally:
                os.close(launch_fd)
        else:
            ctl, out_r, event = self._launch(request, attach=not detach)
        try:
            if event["event"] == "netns":
                event = self._connect(ctl, plug)
            if event["event"] == "failed":
                self._fail(cid, cdir, event)
            if on_start is not None:
                on_start(cid)
            if detach:
                return RunResult(cid, 0, b"", time.perf_counter() - t0)
            try:
                output, final = self._attach(event["pid"], ctl, out_r, on_output, capture)
            except KeyboardInterrupt:
                if remove:  # --rm holds when interrupted too: the monitor has torn it down
                    with contextlib.suppress(BockerError):
                        self.rm(cid, force=True)
                raise
        finally:
            ctl.close()
            if out_r is not None:
                os.close(out_r)
        if final.get("event") == "failed":
            self._fail(cid, cdir, final)
        result = RunResult(cid, final.get("code", 137), output, time.perf_counter() - t0,
                           final.get("oom_killed", False))
        if remove:
            self.rm(cid)
        return result

    def _launch(self, request: dict[str, Any], attach: bool,
                netns_fd: int | None = None) -> tuple[socket.socket, int | None, dict[str, Any]]:
        """Hand a request to the shim; returns our end of its control socket, the read end
        of the output pipe (when attached) and its first event (started or failed)."""
        ctl, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r = out_w = None
        try:
            fds = [ctl_theirs.fileno()]
            request["fds"] = ["ctl"]
            if attach:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                fds.append(out_w)
                request["fds"].append("attach")
            if netns_fd is not None:
                fds.append(netns_fd)
                request["fds"].append("netns")
            self._launcher.launch(request, fds)
        except BaseException:
            ctl.close()
            if out_r is not None:
                os.close(out_r)
            raise
        finally:
            ctl_theirs.close()
            if out_w is not None:
                os.close(out_w)
        msg = ctl.recv(65536)
        event = json.loads(msg) if msg else MONITOR_DIED
        return ctl, out_r, event

    def exec(self, ref: str, command: str | list[str], *, env: dict[str, str] | list[str] | None = None,
             workdir: str | None = None, on_output: Callable[[bytes], None] | None = None,
             capture: bool = True) -> RunResult:
        """Run one more process in a running container: all its namespaces, its root, its
        cgroup and its capabilities. A list is the argv; a string is run by /bin/sh -c."""
        t0 = time.perf_counter()
        c = self.container(ref)
        if not c.running:
            raise Conflict(f"Container '{ref}' exists but is not running")
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv or not all(isinstance(a, str) and "\0" not in a for a in argv):
            raise InvalidArgument("Give the command to run in the container, e.g. bocker exec ID ls /")
        if workdir is not None and not workdir.startswith("/"):
            raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
        environment = dict(e.split("=", 1) for e in c.config["env"])
        environment.update(_parse_env(env))
        request = {
            "op": "exec", "id": c.id, "container_dir": str(self.store.container_dir(c.id)),
            "pid": c.state["pid"], "pid_start": c.state["pid_start"], "cgroup": c.state["cgroup"],
            "env": [f"{k}={v}" for k, v in environment.items()], "argv": argv,
            "workdir": workdir or c.config["workdir"], "capabilities": c.config["capabilities"],
        }
        ctl, out_r, event = self._launch(request, attach=True)
        try:
            if event["event"] == "failed":
                if event.get("code") in (126, 127):
                    raise ExitCodeError(event["message"], event["code"])
                raise Conflict(event["message"])
            output, final = self._attach(event["pid"], ctl, out_r, on_output, capture)
        finally:
            ctl.close()
            if out_r is not None:
                os.close(out_r)
        return RunResult(c.id, final.get("code", 137), output, time.perf_counter() - t0)

    def _connect(self, ctl: socket.socket, plug) -> dict[str, Any]:
        """pid 1 waits in its network namespace: once the interface is plugged in, let it go
        on; returns the monitor's next event (started or failed)."""
        try:
            plug.result()
        except Exception as e:
            # the monitor stops pid 1 and answers "failed": with pid 1's own report if it
            # had failed first, else with ours
            ctl.send(json.dumps({"op": "abort", "message": str(e)}).encode())
            msg = ctl.recv(65536)
            return json.loads(msg) if msg else MONITOR_DIED
        except BaseException:
            ctl.send(b'{"op": "abort", "message": "interrupted"}')
            ctl.recv(65536)
            raise
        ctl.send(b'{"op": "go"}')
        msg = ctl.recv(65536)
        return json.loads(msg) if msg else MONITOR_DIED

    def _fail(self, cid: str, cdir: Path, event: dict[str, Any]) -> None:
        if event is MONITOR_DIED:
            # Nobody cleaned up: what it left (a cgroup, processes) stays recorded for gc.
            raise BockerError(f"The monitor of container {cid} was killed: "
                              "run 'bocker gc' to remove what it left")
        shutil.rmtree(cdir, ignore_errors=True)  # the monitor undid its steps
        code = event.get("code", 125)
        if code in (126, 127):
            raise ExitCodeError(event["message"], code)
        raise ContainerStartError(event["message"])

    def _attach(self, pid: int, ctl: socket.socket, out_r: int,
                on_output: Callable[[bytes], None] | None, capture: bool) -> tuple[bytes, dict[str, Any]]:
        """Stream output until the container exits; a KeyboardInterrupt kills it first."""
        chunks: list[bytes] = []
        final: dict[str, Any] = {}
        interrupted = False
        sel = selectors.DefaultSelector()
        sel.register(out_r, selectors.EVENT_READ, "out")
        sel.register(ctl, selectors.EVENT_READ, "ctl")
        try:
            while sel.get_map():
                try:
                    ready = sel.select()
                    for key, _ in ready:
                        if key.data == "out":
                            chunk = os.read(out_r, 65536)
                            if not chunk:
                                sel.unregister(out_r)
                                continue
                            if capture:
                                chunks.append(chunk)
                            if on_output is not None:
                                on_output(chunk)
                        else:
                            msg = ctl.recv(65536)
                            sel.unregister(ctl)
                            final = json.loads(msg) if msg else MONITOR_DIED
                except KeyboardInterrupt:
                    # Ctrl-C or a notebook interrupt: stop the container, then wait for the
                    # monitor to tear it down, so the host is clean when we return.
                    interrupted = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            sel.close()
        if interrupted:
            raise KeyboardInterrupt
        return b"".join(chunks), final

    # -- lookup ----------------------------------------------------------------------------
    def _load(self, cid: str) -> Container:
        cdir = self.store.container_dir(cid)
        try:
            config = read_json(cdir / "config.json")
            state = read_json(cdir / "state.json")
        except FileNotFoundError:
            raise NotFound(f"No container named '{cid}' exists") from None
        status = state.get("status", "created")
        if status == "created" and not _pid_alive(state.get("creator_pid"), state.get("creator_start")):
            status = "dead"  # the engine that made it was killed before its monitor started
        elif status == "starting":
            alive = _pid_alive(state.get("monitor_pid"), state.get("monitor_start"))
            status = "created" if alive else "dead"
        elif status == "running":
            if state.get("boot_id") != self._boot_id:
                status = "dead"  # the machine rebooted since: nothing of it runs
            elif not _pid_alive(state.get("monitor_pid"), state.get("monitor_start")):
                # its monitor was killed: nobody will record the exit or clean up (gc will)
                status = "dead"
        return Container(
            id=cid, name=config.get("name"), image=config["image"], image_name=config.get("image_name", ""),
            command=config["command"], created=config["created"], status=status,
            exit_code=state.get("exit_code"), oom_killed=state.get("oom_killed", False),
            pid=state.get("pid") if status == "running" else None, started_at=state.get("started_at"),
            finished_at=state.get("finished_at"), config=config, state=state,
        )

    def _find(self, ref: str) -> Container | None:
        if "\0" in ref or "/" in ref or ref in ("", ".", ".."):
            raise InvalidArgument(f"Invalid container reference '{ref}': no '/', '..' or NUL")
        if is_id(ref) and ref.startswith(CONTAINER_PREFIX):
            try:
                return self._load(ref)
            except NotFound:
                return None
        for c in self.ps():
            if c.name == ref:
                return c
        return None

    def container(self, ref: str) -> Container:
        c = self._find(ref)
        if c is None:
            raise NotFound(f"No container named '{ref}' exists")
        return c

    def ps(self) -> list[Container]:
        out = []
        for d in self.store.containers.iterdir():
            if d.name.startswith(CONTAINER_PREFIX):
                with contextlib.suppress(NotFound, ValueError, KeyError):
                    out.append(self._load(d.name))
        return sorted(out, key=lambda c: c.created)

    def logs(self, ref: str) -> bytes:
        c = self.container(ref)
        try:
            return (self.store.container_dir(c.id) / "log").read_bytes()
        except FileNotFoundError:
            return b""

    def inspect(self, ref: str) -> dict[str, Any]:
        """A container's (or an image's) whole record, as JSON-ready data."""
        c = self._find(ref) if not ref.startswith("img_") else None
        if c is not None:
            cdir = self.store.container_dir(c.id)
            layers = [str(self.store.layer_dir(d)) for d in c.config["layers"]]
            return {
                "Id": c.id, "Name": c.name, "Created": c.created, "Image": c.image,
                "ImageName": c.image_name, "Command": c.command, "Status": c.status_text,
                "State": {"Status": c.status, "Running": c.running, "Pid": c.pid,
                          "ExitCode": c.exit_code, "OOMKilled": c.oom_killed,
                          "StartedAt": c.started_at, "FinishedAt": c.finished_at,
                          "Error": c.state.get("error")},
                "Limits": c.config["limits"],
                "Cgroup": {"Driver": c.state.get("cgroup_driver"), "Paths": c.state.get("cgroup", {})},
                "Capabilities": c.config.get("capabilities", []),
                "Privileged": c.config.get("privileged", False),
                "Mounts": [{"Type": "overlay", "Destination": "/", "LowerDirs": layers[::-1],
                            "UpperDir": str(cdir / "upper"), "WorkDir": str(cdir / "work")}]
                          + [{"Type": "bind", "Source": h, "Destination": d, "ReadOnly": ro}
                             for h, d, ro in c.config["volumes"]],
                "Network": self._network_info(c),
                "Layers": c.config["layers"], "LogPath": str(cdir / "log"),
                "Config": c.config,
            }
        img = self.images_store.find(ref)
        if img is None:
            raise NotFound(f"No container or image named '{ref}' exists")
        return {**img.to_json(), "LayerDirs": [str(p) for p in self.images_store.layer_paths(img)]}

    # -- accounting and changes ------------------------------------------------------------
    def stats(self, refs: list[str] | None = None) -> dict[str, CgroupStats]:
        """Cgroup accounting per container id (the same fields on v1 and v2): every running
        container, or the ones named. A container that is not running gives the stats its
        monitor recorded at exit (state.json "stats"), or an empty CgroupStats."""
        driver = detect(parent=self.cgroup_parent)
        containers = [self.container(r) for r in refs] if refs else [c for c in self.ps() if c.running]
        out: dict[str, CgroupStats] = {}
        for c in containers:
            stats = None
            if c.running:
                with contextlib.suppress(NotFound, OSError):
                    stats = driver.group(c.id).stats()
            if stats is None:
                recorded = c.state.get("stats") or {}
                stats = CgroupStats(**{k: v for k, v in recorded.items() if k in CgroupStats.__dataclass_fields__})
            out[c.id] = stats
        return out

    def diff(self, ref: str) -> list[Change]:
        """`docker diff`: what a container's upper dir changes over its image, or what an
        image's top layer changes over the layers below it."""
        upper, lowers = self.diff_dirs(ref)
        return changes(upper, lowers)

    def diff_dirs(self, ref: str) -> tuple[Path, list[Path]]:
        """The upper dir and the lower dirs (top-most first) that `diff` compares."""
        c = self._find(ref) if not ref.startswith("img_") else None
        if c is not None:
            lowers = [self.store.layer_dir(d) for d in reversed(c.config["layers"])]
            return self.store.container_dir(c.id) / "upper", lowers
        img = self.images_store.find(ref)
        if img is None:
            raise NotFound(f"No container or image named '{ref}' exists")
        top_first = [self.store.layer_dir(d) for d in reversed(img.layers)]
        return top_first[0], top_first[1:]

    # -- networks ----------------------------------------------------------------------------
    def network_ls(self) -> list[dict[str, Any]]:
        """Every network with its bridge, subnet, gateway and the containers holding leases."""
        return [self.network_inspect(n.name) for n in self.networks.list()]

    def network_inspect(self, name: str) -> dict[str, Any]:
        from .network import rules_present
        net = self.networks.get(name)
        ipr_up = self.networks.bridge_exists(net.bridge)
        return {**net.to_json(), "BridgeExists": ipr_up,
                "Containers": {cid: address for address, cid in sorted(self.networks.leases(name).items())},
                "Rules": rules_present(net) if ipr_up else []}

    def network_create(self, name: str, subnet: str | None = None, gateway: str | None = None,
                       bridge: str | None = None) -> dict[str, Any]:
        net = self.networks.create(name, subnet, gateway, bridge)
        try:
            self.networks.ensure(name)
        except BaseException:
            self.networks.remove(name, in_use=False)  # nothing half-made stays
            raise
        return self.network_inspect(net.name)

    def network_rm(self, name: str) -> str:
        in_use = any(c.running and (c.config.get("network") or {}).get("name") == name for c in self.ps())
        self.networks.remove(name, in_use)
        return name

    # -- signals and waiting ---------------------------------------------------------------
    def kill(self, ref: str, sig: str | int = "KILL") -> str:
        """Send a signal to the container's pid 1 (`bocker kill -s SIG`)."""
        signum = _signal_number(sig)
        c = self.container(ref)
        if not c.running or not _pid_alive(c.state.get("pid"), c.state.get("pid_start")):
            raise Conflict(f"Container '{ref}' exists but is not running")
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.state["pid"], signum)
        return c.id

    def stop(self, ref: str, timeout: float = 10.0) -> str:
        """SIGTERM, then SIGKILL after `timeout` seconds. A pid 1 that has no SIGTERM handler
        ignores it (the kernel protects a namespace's init), as in Docker."""
        c = self.container(ref)
        if c.running:
            with contextlib.suppress(Conflict):
                self.kill(c.id, "TERM")
            if self.wait(c.id, timeout=timeout) is None:
                with contextlib.suppress(Conflict):
                    self.kill(c.id, "KILL")
                self.wait(c.id, timeout=30)
        return c.id

    def wait(self, ref: str, timeout: float | None = None) -> int | None:
        """Block until the container is no longer running; its exit code (None on timeout)."""
        cid = self.container(ref).id
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            c = self._load(cid)
            if not c.running and c.status not in ("created",):
                return c.exit_code
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    # -- commit ----------------------------------------------------------------------------
    def commit(self, ref: str, target: str) -> Image:
        """The container's changes (its upper dir) as a new layer over its image's layers.

        No copy of the image: the time grows with the size of the change. A running
        container is frozen (cgroup freezer) while its layer is taken, so the layer is a
        consistent snapshot."""
        c = self.container(ref)
        parent = self.images_store.load(c.image)
        group = detect(parent=self.cgroup_parent).group(c.id)

        @contextlib.contextmanager
        def frozen():
            if not (c.running and group.exists()):
                yield
                return
            group.freeze()
            try:
                yield
            finally:
                group.thaw()

        return self.images_store.commit(
            parent, self.store.container_dir(c.id) / "upper", target,
            source=f"{c.id}:{time.strftime('%Y%m%d-%H%M%S')}", freeze=frozen)

    # -- gc --------------------------------------------------------------------------------
    def gc(self) -> list[str]:
        """Remove what crashes left: cgroups (and their processes) of containers whose
        monitor was killed, half-made images and state files, stale "running" state after a
        reboot. Returns a line per thing removed or corrected."""
        done: list[str] = []
        driver = detect(parent=self.cgroup_parent)
        containers = {c.id: c for c in self.ps()}
        for c in containers.values():
            if c.status != "dead":
                continue
            group = driver.group(c.id)
            if group.exists():
                group.destroy()  # kills what is left of the container first
                done.append(f"cgroup of {c.id}")
            state = {**c.state, "status": "exited", "exit_code": 255, "finished_at": time.time(),
                     "error": "its monitor was killed or the host rebooted; cleaned up by gc"}
            write_json(self.store.container_dir(c.id) / "state.json", state)
            done.append(f"state of {c.id}: exited (255)")
        for cid in driver.list_groups():
            c = containers.get(cid)
            group = driver.group(cid)
            if c is None and group.pids():
                continue  # processes but no container here: another BOCKER_ROOT's, left alone
            if c is None or c.status in ("exited", "failed"):
                group.destroy()
                done.append(f"cgroup {cid}")
        for net in self.networks.list():
            for address, owner in self.networks.leases(net.name).items():
                if not self._holds_lease(owner):
                    self.networks.release(net.name, address, owner)
                    done.append(f"lease {net.name}/{address} of {owner}")
        if self.networks.used():
            running = {c.id for c in self.ps() if c.running}
            for veth in self.networks.veths():
                owner = next((cid for cid in containers if host_ifname(cid) == veth), None)
                if owner not in running:
                    self.networks.detach_ifname(veth)
                    done.append(f"veth {veth}")
        for path in self.store.stale_tmp():
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"half-made {path.name}")
        for tmp in self.store.containers.glob("*/state.json.*.tmp"):
            pid = int(tmp.name.split(".")[2]) if tmp.name.split(".")[2].isdigit() else 0
            if not pid or linux.process_start_time(pid) is None:
                tmp.unlink(missing_ok=True)
                done.append(f"half-written {tmp.parent.name}/{tmp.name}")
        driver.remove_parent()  # only if empty
        return done

    # -- removal ---------------------------------------------------------------------------
    def rm(self, ref: str, force: bool = False) -> str:
        """Remove a container (or, for an img_ id or an image name, an image)."""
        if ref.startswith("img_") or (not ref.startswith(CONTAINER_PREFIX) and self._find(ref) is None
                                      and self.images_store.find(ref) is not None):
            return self.rmi(ref)
        c = self._find(ref)
        if c is None:
            if ref.startswith(CONTAINER_PREFIX):
                raise NotFound(f"No container named '{ref}' exists")
            raise NotFound(f"No container or image named '{ref}' exists")
        if c.running:
            if not force:
                raise Conflict(f"Container '{c.id}' is running: stop it first, or use rm -f")
            self._kill_and_wait(c)
        self._cleanup(c)
        shutil.rmtree(self.store.container_dir(c.id), ignore_errors=True)
        self.images_store.forget_if_unused(c.image, in_use=any(o.image == c.image for o in self.ps()))
        return c.id

    def _kill_and_wait(self, c: Container, timeout: float = 10.0) -> None:
        with contextlib.suppress(Conflict):
            self.kill(c.id, "KILL")
        self.wait(c.id, timeout=timeout)

    def _cleanup(self, c: Container) -> None:
        """Whatever a monitor that died (kill -9) left: the cgroup (and its processes), the
        address lease, a veth that outlived its namespace. Mounts die with the container's
        mount namespace."""
        if c.status in ("dead", "running", "created"):
            group = detect(parent=self.cgroup_parent).group(c.id)
            if group.exists():
                group.destroy()
        self._release(c.id, c.config)
        if (c.config.get("network") or {}).get("mode") == "bridge":
            self.networks.detach(c.id)
