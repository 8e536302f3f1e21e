"""Netlink (pyroute2) from a threaded process: one worker thread, and network namespaces made
without a fork.

pyroute2 is imported only here, and lazily: `bocker ps` needs none of it."""

from __future__ import annotations

import functools
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from ..kernel import linux

CONTAINER_IFINDEX = 2


def on_netlink_thread(method):
    """Run a method on the Networks' own worker thread.

    pyroute2's synchronous IPRoute drives an asyncio loop of its own, which fails in a
    thread where a loop already runs: a Jupyter kernel's main thread. One worker thread,
    with no loop of anyone else's, holds the netlink socket and makes every netlink call."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if threading.current_thread() is self._thread:
            return method(self, *args, **kwargs)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bocker-netlink",
                                            initializer=self._register_thread)
        return self._pool.submit(method, self, *args, **kwargs).result()
    return wrapper



def new_netns() -> tuple[int, socket.socket]:
    """Make a network namespace from a short-lived thread: unshare(CLONE_NEWNET) is per
    thread and allowed in a threaded process (a Jupyter kernel), and the thread's end leaves
    the engine where it was. No fork (which pyroute2's own netns support does). Returns an
    fd that holds the namespace and a NETLINK_ROUTE socket that lives in it."""
    def make() -> tuple[int, socket.socket]:
        linux.unshare(linux.CLONE_NEWNET)
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.loopback_up()
            return fd, socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        except BaseException:
            os.close(fd)
            raise

    return linux.on_fresh_thread(make)
