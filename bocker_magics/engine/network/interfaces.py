"""A container's interfaces, through netlink: each network's veth pair (the host end on the
bridge, the other end created straight into the container's namespace), its address and the
default route Docker's rule picks (plan.gateway_endpoint); plugged while the container starts
(attach_async), or into a running one and out of it again (network connect, disconnect)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor

from ...errors import BockerError
from ..runtime.protocol import Endpoint
from .netlink import CONTAINER_IFINDEX, new_netns, on_netlink_thread


class Interfaces:
    """Mixed into Networks: its netlink socket (ipr), the lock and the netlink thread's pool."""

    def new_namespace(self) -> tuple[int, socket.socket]:
        """A new network namespace, for a container that does not exist yet: an fd that
        holds it, and a netlink socket inside it (lo is already up)."""
        return new_netns()

    def attach_async(self, endpoints: list[Endpoint] | Endpoint, ns_fd: int, inside: socket.socket):
        """Start plugging a container's interfaces into a namespace from new_namespace(), on
        the netlink thread, while the container is being started; returns a Future. The fd
        and the socket are closed when it is done: keep your own dup of the fd if needed."""
        if isinstance(endpoints, Endpoint):
            endpoints = [endpoints]
        return self._submit(self._attach, list(endpoints), ns_fd, inside)

    def _submit(self, fn, *args):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bocker-netlink",
                                            initializer=self._register_thread)
        return self._pool.submit(fn, *args)

    def _veth(self, ep: Endpoint, ns_fd: int, index: int | None) -> None:
        """The veth pair: host end on the bridge, the container's end (its name and MAC; in a
        fresh namespace its ifindex too, so no lookup is needed there) created straight into
        the namespace. Call it holding self._lock."""
        ipr = self.ipr()
        bridge = ipr.link_lookup(ifname=ep.bridge)
        if not bridge:
            raise BockerError(f"The bridge {ep.bridge} is gone: run again to recreate it")
        for stale in ipr.link_lookup(ifname=ep.host_ifname):
            # its previous run's pair, still there while something (the resolver's
            # sockets, until it sees the stop) holds that run's namespace
            ipr.link("del", index=stale)
        peer = {"ifname": ep.ifname, "address": ep.mac, "net_ns_fd": ns_fd}
        if index is not None:
            peer["index"] = index
        ipr.link("add", ifname=ep.host_ifname, kind="veth", master=bridge[0], state="up", peer=peer)

    def _attach(self, endpoints: list[Endpoint], ns_fd: int, inside_sock: socket.socket) -> None:
        """A fresh namespace (only lo, ifindex 1): each interface in order (eth0 at ifindex
        2, eth1 at 3...), its address, link up; then the default route through the gateway
        Docker's rule picks (plan.gateway_endpoint), none when every network is internal."""
        from .plan import gateway_endpoint
        current = None
        try:
            with self._lock:
                for n, ep in enumerate(endpoints):
                    current = ep
                    self._veth(ep, ns_fd, CONTAINER_IFINDEX + n)
            from pyroute2 import IPRoute
            with IPRoute(use_socket=inside_sock) as inside:
                for n, ep in enumerate(endpoints):
                    current = ep
                    inside.addr("add", index=CONTAINER_IFINDEX + n, address=ep.address, prefixlen=ep.prefixlen)
                    inside.link("set", index=CONTAINER_IFINDEX + n, state="up")
                gw = gateway_endpoint(endpoints)
                if gw is not None:
                    current = gw
                    inside.route("add", dst="default", gateway=gw.gateway)
        except BockerError:
            raise
        except Exception as e:
            where = current.network if current is not None else "its network"
            raise BockerError(f"Could not connect the container to network '{where}': {e}") from None
        finally:
            os.close(ns_fd)
            inside_sock.close()

    @on_netlink_thread
    def attach_live(self, ep: Endpoint, netns: str, endpoints: list[Endpoint]) -> None:
        """`network connect` of a running container: the interface plugged into its namespace
        (`netns`, /proc/PID/ns/net of its pid 1), its address, link up, and the default route
        put where Docker's rule wants it among `endpoints` (the new one included). A failure
        leaves no interface behind."""
        sock = ns_fd = None
        try:
            ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            sock = _netlink_in(ns_fd)
            with self._lock:
                self._veth(ep, ns_fd, None)
            from pyroute2 import IPRoute
            with IPRoute(use_socket=sock) as inside:
                found = inside.link_lookup(ifname=ep.ifname)
                if not found:
                    raise BockerError(f"{ep.ifname} did not appear in the container")
                inside.addr("add", index=found[0], address=ep.address, prefixlen=ep.prefixlen)
                inside.link("set", index=found[0], state="up")
                _default_route(inside, endpoints)
        except Exception as e:
            with contextlib.suppress(Exception), self._lock:
                for index in self.ipr().link_lookup(ifname=ep.host_ifname):
                    self.ipr().link("del", index=index)
            if isinstance(e, BockerError):
                raise
            raise BockerError(f"Could not connect the container to network '{ep.network}': {e}") from None
        finally:
            if ns_fd is not None:
                os.close(ns_fd)
            if sock is not None:
                sock.close()

    @on_netlink_thread
    def detach_live(self, ep: Endpoint, netns: str | None, remaining: list[Endpoint]) -> None:
        """`network disconnect` of a running container: its interface on that network removed
        (the pair goes with its host end), and the default route moved to what Docker's rule
        picks among the `remaining` interfaces when it went through the one removed."""
        with self._lock:
            ipr = self.ipr()
            for index in ipr.link_lookup(ifname=ep.host_ifname):
                ipr.link("del", index=index)
        if netns is None:
            return
        ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sock = _netlink_in(ns_fd)
        finally:
            os.close(ns_fd)
        from pyroute2 import IPRoute
        try:
            with IPRoute(use_socket=sock) as inside:
                _default_route(inside, remaining)
        finally:
            sock.close()

    @on_netlink_thread
    def detach_ifname(self, ifname: str) -> bool:
        with self._lock:
            ipr = self.ipr()
            found = ipr.link_lookup(ifname=ifname)
            for index in found:
                with contextlib.suppress(Exception):
                    ipr.link("del", index=index)
            return bool(found)

    @on_netlink_thread
    def veths(self) -> list[str]:
        """Host-side veths of ours (vb<hex>) in this network namespace."""
        with self._lock:
            links = self.ipr().get_links()
        names = [l.get_attr("IFLA_IFNAME") for l in links]
        return [n for n in names if n and re.fullmatch(r"vb[0-9a-f]{10,13}|vb[0-9a-f]{10,12}[g-z]", n)]



def _netlink_in(ns_fd: int) -> socket.socket:
    """A NETLINK_ROUTE socket inside the namespace `ns_fd` (made on a short-lived thread that
    joins it: the engine itself stays where it is)."""
    from ..kernel import linux

    def make() -> socket.socket:
        linux.setns(ns_fd, linux.CLONE_NEWNET)
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)

    return linux.on_fresh_thread(make)


def _default_route(inside, endpoints: list[Endpoint]) -> None:
    """The namespace's default route through the gateway Docker's rule picks among
    `endpoints`; none when none has a way out."""
    from .plan import gateway_endpoint
    gw = gateway_endpoint(endpoints)
    if gw is not None:
        inside.route("replace", dst="default", gateway=gw.gateway)
        return
    with contextlib.suppress(Exception):  # no route to remove
        inside.route("del", dst="default")
