"""The article's net namespace experiment (2.1.4.2) with pyroute2, each step beside the
`ip` command it replaces.

    demo = NetnsDemo()          # names of its own: bkl-r1-<tag>, bkl-r2-<tag>, veth bkl0/1-<tag>
    for step in demo.steps(): step.run()   # or demo.run_all() -> a table of the steps
    demo.ping("r1", demo.addr2)            # busybox ping from inside r1
    demo.close()                # deletes both netns (and with them the veth pair)

No fork of the (threaded) Jupyter kernel: a named netns is made by a short-lived thread
that unshares CLONE_NEWNET (per thread) and bind-mounts its namespace on /run/netns/NAME,
which is what `ip netns add` does; netlink calls run on a worker thread that setns()
into the namespace they are about (pyroute2's sync API needs a thread with no asyncio loop
of someone else's, so never the kernel's main thread).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.kernel import linux

NETNS_DIR = "/run/netns"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def _in_thread(fn: Callable[[], Any], netns_path: str | None = None) -> Any:
    """Run fn on a fresh thread, in netns_path's network namespace if given."""
    def work() -> Any:
        if netns_path is not None:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
        return fn()

    return linux.on_fresh_thread(work)


def _ipr_call(netns_path: str | None, fn: Callable[[Any], Any]) -> Any:
    def work() -> Any:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            return fn(ipr)

    return _in_thread(work, netns_path)


def add_netns(name: str) -> str:
    """`ip netns add NAME`: a new network namespace pinned by a bind mount at /run/netns/NAME."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    path = os.path.join(NETNS_DIR, name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)

    def make() -> None:
        linux.unshare(linux.CLONE_NEWNET)  # this thread only
        linux.mount("/proc/thread-self/ns/net", path, None, linux.MS_BIND)

    try:
        _in_thread(make)
    except BaseException:
        os.unlink(path)
        raise
    return path


def delete_netns(name: str) -> None:
    """`ip netns delete NAME`: unpin it; the kernel frees it (and its devices) when unused."""
    path = os.path.join(NETNS_DIR, name)
    if not os.path.exists(path):
        return
    try:
        linux.umount2(path, linux.MNT_DETACH)
    except OSError:
        pass
    os.unlink(path)


def link_names(netns_path: str | None = None) -> list[str]:
    return _ipr_call(netns_path, lambda ipr: [l.get_attr("IFLA_IFNAME") for l in ipr.get_links()])


def addresses(netns_path: str | None = None) -> list[tuple[str, str]]:
    def get(ipr: Any) -> list[tuple[str, str]]:
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        return [(names.get(a["index"], "?"), f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
                for a in ipr.get_addr(family=2)]
    return _ipr_call(netns_path, get)


@dataclass
class Step:
    ip_command: str      # what the article types
    pyroute2: str        # the call that replaces it (shown)
    action: Callable[[], Any]
    show: Callable[[], str] | None = None   # the `ip address` commands run after it, and their output
    result: Any = None
    ip_a: str = ""       # what `ip address` printed after the step (the real command, run here)

    def run(self) -> Any:
        self.result = self.action()
        if self.show is not None:
            self.ip_a = self.show()
        return self.result


def ip_address(netns: str = "", devices: tuple[str, ...] = ()) -> str:
    """`ip address` (`ip -n NETNS address`): the real command's output, headed by the command."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["address"]
    if devices:
        out = "".join(subprocess.run(cmd + ["show", "dev", d], capture_output=True, text=True).stdout for d in devices)
        shown = " ".join(cmd) + " show dev " + " / ".join(devices)
    else:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        shown = " ".join(cmd)
    return f"# {shown}\n{out.rstrip()}"


def link_state(dev: str, netns_path: str | None = None) -> str:
    """The operational state `ip` prints after `state` (UP, DOWN, LOWERLAYERDOWN, UNKNOWN)."""
    def get(ipr: Any) -> str:
        return ipr.get_links(ipr.link_lookup(ifname=dev)[0])[0].get_attr("IFLA_OPERSTATE")
    return _ipr_call(netns_path, get)


class NetnsDemo:
    def __init__(self, addr1: str = "172.18.0.11/24", addr2: str = "172.18.0.12/24", tag: str | None = None) -> None:
        tag = tag or uuid.uuid4().hex[:6]
        self.tag = tag
        self.r1, self.r2 = f"bkl-r1-{tag}", f"bkl-r2-{tag}"
        self.veth0, self.veth1 = f"bkl0-{tag}", f"bkl1-{tag}"  # 11 chars: under IFNAMSIZ
        self.addr1, self.addr2 = addr1, addr2
        self.made: list[str] = []
        self._steps: list[Step] | None = None

    def path(self, ns: str) -> str:
        return os.path.join(NETNS_DIR, {"r1": self.r1, "r2": self.r2}.get(ns, ns))

    @property
    def ip1(self) -> str:
        return self.addr1.split("/")[0]

    @property
    def ip2(self) -> str:
        return self.addr2.split("/")[0]

    def state(self, dev: str, ns: str) -> str:
        """The state `ip -n NS address` shows for dev."""
        return link_state(dev, self.path(ns))

    def wait_state(self, dev: str, ns: str, state: str, timeout: float = 5.0) -> str:
        """Poll dev's operational state until it is `state` (or timeout): the last one seen."""
        import time

        deadline = time.monotonic() + timeout
        seen = self.state(dev, ns)
        while seen != state and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = self.state(dev, ns)
        return seen

    def steps(self) -> list[Step]:
        """The article's steps in its order; after each, `ip address` where it changed something."""
        if self._steps is not None:
            return self._steps
        v0, v1, r1, r2 = self.veth0, self.veth1, self.r1, self.r2

        def add_veth() -> list[str]:
            _ipr_call(None, lambda ipr: ipr.link("add", ifname=v0, kind="veth", peer=v1))
            self.made.append("veth")
            return [n for n in link_names() if n in (v0, v1)]

        def add_ns() -> list[str]:
            for name in (r1, r2):
                add_netns(name)
                self.made.append(name)
            return sorted(n for n in os.listdir(NETNS_DIR) if n in (r1, r2))

        def move() -> dict[str, list[str]]:
            for dev, ns in ((v0, "r1"), (v1, "r2")):
                fd = os.open(self.path(ns), os.O_RDONLY)
                try:
                    _ipr_call(None, lambda ipr, dev=dev, fd=fd: ipr.link("set", index=ipr.link_lookup(ifname=dev)[0],
                                                                         net_ns_fd=fd))
                finally:
                    os.close(fd)
            return {r1: link_names(self.path("r1")), r2: link_names(self.path("r2"))}

        def configure(dev: str, ns: str, addr: str,
                      settle: tuple[tuple[str, str, str], ...]) -> Callable[[], list[tuple[str, str]]]:
            ip, plen = addr.split("/")

            def act() -> list[tuple[str, str]]:
                def work(ipr: Any) -> None:
                    idx = ipr.link_lookup(ifname=dev)[0]
                    ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
                    ipr.link("set", index=idx, state="up")
                _ipr_call(self.path(ns), work)
                # the Linux kernel sets a link's operational state a moment after it is set up
                # (its link watch runs deferred): wait for it, so `ip address` shows the outcome
                for d, n, state in settle:
                    self.wait_state(d, n, state)
                return addresses(self.path(ns))
            return act

        def lo_up() -> dict[str, str]:
            for ns in ("r1", "r2"):
                _ipr_call(self.path(ns), lambda ipr: ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up"))
            return {r1: self.state("lo", "r1"), r2: self.state("lo", "r2")}

        def shown(*what: str | tuple[str, ...]) -> Callable[[], str]:
            # "" = this namespace, a name = that netns, a tuple = these devices of this namespace
            def show() -> str:
                return "\n".join(ip_address("", w) if isinstance(w, tuple) else ip_address(w) for w in what)
            return show

        self._steps = [
            Step(f"ip link add {v0} type veth peer name {v1}",
                 f'ipr.link("add", ifname="{v0}", kind="veth", peer="{v1}")', add_veth, shown((v0, v1))),
            Step(f"ip netns add {r1}; ip netns add {r2}",
                 "netns add: unshare(CLONE_NEWNET) on a thread + bind mount of its ns/net on /run/netns/NAME",
                 add_ns, shown(r1)),
            Step(f"ip link set {v0} netns {r1}; ip link set {v1} netns {r2}",
                 'ipr.link("set", index=…, net_ns_fd=open("/run/netns/NAME"))', move, shown("", r1)),
            Step(f"ip -n {r1} addr add {self.addr1} dev {v0}; ip -n {r1} link set {v0} up",
                 f'in {r1}: ipr.addr("add", index=…, address="{self.ip1}", prefixlen=…); '
                 'ipr.link("set", …, state="up")',
                 configure(v0, "r1", self.addr1, ((v0, "r1", "LOWERLAYERDOWN"),)), shown(r1)),
            Step(f"ip -n {r2} addr add {self.addr2} dev {v1}; ip -n {r2} link set {v1} up",
                 f'in {r2}: ipr.addr("add", index=…, address="{self.ip2}", prefixlen=…); '
                 'ipr.link("set", …, state="up")',
                 configure(v1, "r2", self.addr2, ((v1, "r2", "UP"), (v0, "r1", "UP"))), shown(r2, r1)),
            Step(f"ip -n {r1} link set lo up; ip -n {r2} link set lo up",
                 'in each: ipr.link("set", index=<lo>, state="up")', lo_up, shown(r1)),
        ]
        return self._steps

    def run_all(self) -> StepTable:
        for s in self.steps():
            s.run()
        return StepTable(self.steps())

    def ping(self, ns: str, address: str, count: int = 2) -> subprocess.CompletedProcess:
        """`ip netns exec NS ping -c COUNT ADDRESS` (busybox ping, run by nsenter)."""
        return subprocess.run(["nsenter", f"--net={self.path(ns)}", BUSYBOX, "ping", "-c", str(count), "-W", "2",
                               address], capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        """`ip netns delete` both; the veth pair goes with them (or is deleted if never moved)."""
        for name in (self.r1, self.r2):
            delete_netns(name)
        if "veth" in self.made:
            def drop(ipr: Any) -> None:
                for dev in (self.veth0, self.veth1):
                    idx = ipr.link_lookup(ifname=dev)
                    if idx:
                        ipr.link("del", index=idx[0])
            _ipr_call(None, drop)
        self.made.clear()

    def __enter__(self) -> NetnsDemo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topology_png(self, dpi: int = 72) -> bytes:
        """The topology as a small PNG: two namespaces, the veth pair between them."""
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch

        fig = Figure(figsize=(7, 2.6), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 4)
        ax.axis("off")
        for x, ns, dev, addr, colour in ((0.3, self.r1, self.veth0, self.addr1, "#ddeeff"),
                                         (6.2, self.r2, self.veth1, self.addr2, "#e6f5e6")):
            ax.add_patch(FancyBboxPatch((x, 0.5), 3.5, 3, boxstyle="round,pad=0.1", fc=colour, ec="#333"))
            ax.text(x + 1.75, 3.1, f"netns {ns}", ha="center", fontsize=11, weight="bold")
            ax.text(x + 1.75, 2.2, "lo 127.0.0.1", ha="center", fontsize=9, color="#555")
            ax.text(x + 1.75, 1.3, f"{dev}\n{addr}", ha="center", fontsize=10)
        ax.annotate("", xy=(6.3, 1.45), xytext=(3.7, 1.45), arrowprops=dict(arrowstyle="<->", lw=2))
        ax.text(5.0, 1.7, "veth pair", ha="center", fontsize=10)
        ax.text(5.0, 0.9, "ping both ways", ha="center", fontsize=9, color="#555")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()


class StepTable:
    """The steps as a table: the `ip` command, the pyroute2 call, what it left."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(s.ip_command)}</code><br><small>{html.escape(s.pyroute2)}</small></td>"
            f"<td><pre style=\"margin:0\">{html.escape(s.ip_a)}</pre></td></tr>" for s in self.steps)
        return ("<table class=\"tex2jax_ignore mathjax_ignore\"><caption>each step: the ip command of the article "
                "(below it, the pyroute2 call this notebook makes instead), then what the real <code>ip address</code> "
                "prints</caption><thead><tr><th>step</th><th>ip address afterwards</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([(s.ip_command, s.pyroute2, s.result, s.ip_a) for s in self.steps],
                            columns=["ip", "pyroute2", "result", "ip address afterwards"])

    def __repr__(self) -> str:
        return "\n\n".join(f"$ {s.ip_command}\n    ({s.pyroute2})\n{s.ip_a}" for s in self.steps)
