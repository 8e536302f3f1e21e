"""A Kubernetes node's container runtime, without the kubelet: containerd 1.6 with its CRI
plugin, driven over the CRI v1 gRPC API as a kubelet drives it (tests/test_cri.py,
benchmarks/bench_cri.py).

    with CriNode(tmp, {"bocker-runc": launcher, "runc": RUNC}) as node:
        node.pull("docker.io/library/busybox:cri")
        pod, config = node.run_pod("web", handler="bocker-runc")
        c = node.create(pod, config, "c1", "docker.io/library/busybox:cri", ["sleep", "1000"])
        node.start(c); node.exec_sync(c, ["hostname"]) ...

What it is made of, all of it under `tmp` and removed by close():
- containerd in a mount namespace of its own (tests/peers.py's sandbox, without a network
  namespace: /run a fresh tmpfs, /etc /var /opt overlays), in the caller's network namespace
  (the test session's own, or the benchmark's `unshare -n`): the CNI bridge and the pods'
  veths are made there, never in the host's;
- its config: CRI on, cgroupfs (SystemdCgroup = false), restrict_oom_score_adj = true (this
  host's root lacks CAP_SYS_RESOURCE, so a kubelet's oom_score_adj below ours is refused),
  one runtime handler per entry of `runtimes` (io.containerd.runc.v2 with that BinaryName:
  the RuntimeClass handler a cluster names), CNI from Debian's containernetworking-plugins
  (/usr/lib/cni: bridge + host-local, a bridge of this node's own name and subnet);
- the registry: every image name of docker.io is served by the caller's loopback registry
  (hosts.toml whose server is that registry: no fall back to the real one);
- the pods' cgroups under a parent of its own; the CRI client's Python stubs, generated from
  tests/support/cri_api/api.proto with grpcio-tools in `tmp`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import peers

HERE = Path(__file__).resolve().parent
PROTO = HERE / "cri_api" / "api.proto"
CNI_BIN = "/usr/lib/cni"


class MountSandbox(peers.Sandbox):
    """peers.Sandbox without its network namespace: the caller's is used."""

    def __init__(self, tmp: Path) -> None:
        self.dir = Path(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._nsenter = peers._need("nsenter", "util-linux")
        unshare = peers._need("unshare", "util-linux")
        self.holder = subprocess.Popen(
            [unshare, "--mount", "--propagation", "private", "--", "sh", "-c", peers._SANDBOX_SCRIPT, "sandbox",
             str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            err = self.holder.stderr.read() if self.holder.poll() is not None else ""
            self.close()
            raise peers.PeerUnavailable(f"cannot make a mount namespace sandbox: {err.strip() or line.strip()}")
        self.pid = self.holder.pid
        self.mntns = os.readlink(f"/proc/{self.pid}/ns/mnt")
        self.netns = os.readlink(f"/proc/{self.pid}/ns/net")

    def prefix(self, cwd=None) -> list[str]:
        argv = [self._nsenter, f"--target={self.pid}", "--mount", "--"]
        return [*argv, "env", "-C", str(cwd)] if cwd is not None else argv


def stubs(directory: Path):
    """api_pb2 and api_pb2_grpc, generated from PROTO into `directory` (grpcio-tools)."""
    try:
        from grpc_tools import protoc
    except ImportError as e:
        raise peers.PeerUnavailable(f"grpcio-tools is not installed ({e}): pip install -e '.[test]'") from None
    directory.mkdir(parents=True, exist_ok=True)
    code = protoc.main(["protoc", f"-I{PROTO.parent}", f"--python_out={directory}", f"--grpc_python_out={directory}",
                        str(PROTO)])
    if code != 0:
        raise RuntimeError(f"protoc could not compile {PROTO}")
    sys.path.insert(0, str(directory))
    try:
        for name in ("api_pb2", "api_pb2_grpc"):
            sys.modules.pop(name, None)
        return importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc")
    finally:
        sys.path.remove(str(directory))


class CriNode(peers.Peer):
    """containerd + CRI for the tests; see the module's docstring."""

    def __init__(self, tmp: Path, runtimes: dict[str, str], registry: str, subnet: str = "10.88.0.0/24") -> None:
        super().__init__(tmp)
        self.name = "containerd-cri"
        self.runtimes, self.registry, self.subnet = runtimes, registry, subnet
        self.address = self.tmp / "containerd.sock"
        self.binary = peers._need("containerd", "containerd")
        peers._need("containerd-shim-runc-v2", "containerd")
        if not os.path.exists(f"{CNI_BIN}/bridge"):
            raise peers.PeerUnavailable("the CNI plugins are not installed: apt-get install containernetworking-plugins")
        self.bridge = f"crib{os.getpid() % 100000}"
        self.log = self.tmp / "containerd.log"
        self.pods: list[str] = []

    # -- start -------------------------------------------------------------------------------
    def config(self) -> str:
        t = self.tmp
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        runtimes = "".join(f"""
[{cri}.containerd.runtimes."{name}"]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes."{name}".options]
  BinaryName = "{binary}"
  SystemdCgroup = false
""" for name, binary in self.runtimes.items())
        return f"""version = 2
root = "{t}/root"
state = "{t}/state"
temp = "{t}/tmpdir"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{t}/opt"
[plugins."io.containerd.service.v1.diff-service"]
  default = ["walking"]
[{cri}]
  sandbox_image = "docker.io/library/pause:cri"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  tolerate_missing_hugetlb_controller = true
  enable_unprivileged_ports = false
  enable_unprivileged_icmp = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "{next(iter(self.runtimes))}"
{runtimes}
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{t}/cni/net.d"
  max_conf_num = 1
[{cri}.registry]
  config_path = "{t}/certs.d"
"""

    def start(self) -> None:
        self.sandbox = MountSandbox(self.tmp / "sandbox")
        t = self.tmp
        (t / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
        (t / "cni" / "net.d" / "10-cri-test.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": "cri-test",
            "plugins": [{"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
                         "hairpinMode": True,
                         "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                                  "dataDir": str(t / "cni" / "ipam")}}]}))
        hosts = t / "certs.d" / "docker.io"
        hosts.mkdir(parents=True, exist_ok=True)
        # the loopback registry serves docker.io's names: it is the server, so nothing is
        # ever asked of the real one
        (hosts / "hosts.toml").write_text(f'server = "http://{self.registry}"\n\n[host."http://{self.registry}"]\n'
                                          '  capabilities = ["pull", "resolve"]\n  skip_verify = true\n')
        (t / "config.toml").write_text(self.config())
        d = self._daemon([self.binary, "--config", t / "config.toml", "--log-level", "warn"], self.log)
        self._wait_for("its socket", lambda: peers._socket_ready(self.address), d, self.log)
        self.daemon = d
        pb2, grpc_pb2 = stubs(t / "stubs")
        import grpc
        self.api = pb2
        self.channel = grpc.insecure_channel(f"unix://{self.address}")
        self.rt = grpc_pb2.RuntimeServiceStub(self.channel)
        self.images = grpc_pb2.ImageServiceStub(self.channel)
        deadline = time.monotonic() + 30
        while True:  # the CRI service answers once its plugin is up
            try:
                self.version = self.rt.Version(pb2.VersionRequest(version="v1"), timeout=5)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise peers.PeerUnavailable(f"containerd's CRI plugin does not answer: {peers._last_line(self.log)}")
                time.sleep(0.1)

    # -- the CRI calls, as a kubelet makes them -------------------------------------------------
    def pull(self, image: str) -> str:
        return self.images.PullImage(self.api.PullImageRequest(image=self.api.ImageSpec(image=image)),
                                     timeout=120).image_ref

    def pod_config(self, name: str, privileged: bool = False, shared_pid: bool = False):
        api = self.api
        logs = self.tmp / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        return api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="default", attempt=0),
            hostname=name, log_directory=str(logs), labels={"app": name},
            linux=api.LinuxPodSandboxConfig(
                # the pod's cgroup parent is a kubelet's to make and remove: ours, shared by the pods
                cgroup_parent=f"/{self.cgroup_parent}",
                security_context=api.LinuxSandboxSecurityContext(
                    privileged=privileged,
                    namespace_options=api.NamespaceOption(network=api.POD, pid=api.POD if shared_pid else api.CONTAINER,
                                                          ipc=api.POD))))

    def run_pod(self, name: str, handler: str, privileged: bool = False, shared_pid: bool = False):
        """A pod sandbox; shared_pid: one pid namespace for the pod (a PodSpec's shareProcessNamespace)."""
        config = self.pod_config(name, privileged, shared_pid)
        pod = self.rt.RunPodSandbox(self.api.RunPodSandboxRequest(config=config, runtime_handler=handler),
                                    timeout=120).pod_sandbox_id
        self.pods.append(pod)
        return pod, config

    def create(self, pod: str, pod_config, name: str, image: str, command: list[str], *, privileged: bool = False,
               mounts: list = ()) -> str:
        api = self.api
        pid = pod_config.linux.security_context.namespace_options.pid
        config = api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name), image=api.ImageSpec(image=image), command=command,
            log_path=f"{name}.log", mounts=list(mounts),
            linux=api.LinuxContainerConfig(security_context=api.LinuxContainerSecurityContext(
                privileged=privileged,
                namespace_options=api.NamespaceOption(network=api.POD, pid=pid, ipc=api.POD))))
        return self.rt.CreateContainer(api.CreateContainerRequest(pod_sandbox_id=pod, config=config,
                                                                  sandbox_config=pod_config), timeout=120).container_id

    def start_container(self, cid: str) -> None:
        self.rt.StartContainer(self.api.StartContainerRequest(container_id=cid), timeout=120)

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 30):
        return self.rt.ExecSync(self.api.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout),
                                timeout=timeout + 30)

    def status(self, cid: str):
        return self.rt.ContainerStatus(self.api.ContainerStatusRequest(container_id=cid), timeout=30).status

    def stop_container(self, cid: str, timeout: int = 2) -> None:
        self.rt.StopContainer(self.api.StopContainerRequest(container_id=cid, timeout=timeout), timeout=timeout + 60)

    def remove_container(self, cid: str) -> None:
        self.rt.RemoveContainer(self.api.RemoveContainerRequest(container_id=cid), timeout=60)

    def stop_pod(self, pod: str) -> None:
        self.rt.StopPodSandbox(self.api.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=120)

    def remove_pod(self, pod: str) -> None:
        self.rt.RemovePodSandbox(self.api.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=120)
        if pod in self.pods:
            self.pods.remove(pod)

    def log_lines(self, *needles: str) -> list[str]:
        """containerd's log lines (its shims' included) that hold any of `needles`."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(n in line for n in needles)]

    # -- clean-up ----------------------------------------------------------------------------
    def shutdown(self) -> None:
        for pod in list(self.pods):
            with contextlib.suppress(Exception):
                self.stop_pod(pod)
            with contextlib.suppress(Exception):
                self.remove_pod(pod)
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        if getattr(self, "daemon", None) is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.daemon.wait(10)

    def leftovers(self) -> list[str]:
        found = super().leftovers()
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            found.append(f"bridge {self.bridge}")
        return found

    def close(self) -> list[str]:
        left = super().close()
        # the CNI bridge is made once and stays by design (as on a node): ours goes with us
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        return [x for x in left if x != f"bridge {self.bridge}"]


# -- images -----------------------------------------------------------------------------------
def push_images(registry, work: Path) -> None:
    """busybox and a pause image (a static binary of tests/support/programs/pause.c), built with umoci,
    pushed as library/busybox:cri and library/pause:cri (docker.io's names, through the mirror)."""
    from tests.support.registry_fixtures import Layout, busybox_tree
    layout = Layout(work / "oci")
    bundle = work / "bundle"
    layout.new("busybox")
    busybox_tree(layout.unpack("busybox", bundle))
    layout.repack("busybox", bundle)
    layout.config("busybox", "--config.cmd", "sh", "--config.env", "PATH=/bin")
    layout.new("pause")
    root = layout.unpack("pause", bundle)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(root / "pause"), str(HERE / "programs" / "pause.c")], check=True)
    layout.repack("pause", bundle)
    layout.config("pause", "--config.entrypoint", "/pause")
    registry.push_oci(layout.path, "busybox", "library/busybox:cri")
    registry.push_oci(layout.path, "pause", "library/pause:cri")
