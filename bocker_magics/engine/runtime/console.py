"""The console: a pty from the container's own devpts whose master goes to the caller over
a unix socket (as runc sends it to podman's conmon or containerd's shim), and the caller's
side that receives it. Stdlib + ctypes only (runtime/init.py's rule)."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from ...errors import ProcessError
from ..kernel import linux

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
_TIOCSCTTY = 0x540E
_TIOCSWINSZ = 0x5414


def pid1_console(spec, console_socket: int | None) -> int:
    """pid 1's console: a pty whose slave also becomes /dev/console."""
    if console_socket is None:
        raise ProcessError("process.terminal is set but no console socket was given (--console-socket)")
    master, slave, slave_path = open_pty(spec.process.console_size)
    console = "/dev/console"
    if not os.path.exists(console):
        with open(console, "a"):
            pass
    linux.mount(slave_path, console, None, linux.MS_BIND)
    take_terminal(master, slave, console_socket)
    return master


def open_pty(size=None) -> tuple[int, int, str]:
    """A pty from the container's own devpts (/dev/ptmx after pivot_root or setns into its
    mount namespace): (master, slave, slave's path)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0" * 4))[0]
    slave_path = f"/dev/pts/{number}"
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    if size is not None and size.height and size.width:
        fcntl.ioctl(slave, _TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] |= termios.ONLCR | termios.OPOST  # \n is \r\n on a terminal, as on a real one
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave, slave_path


def take_terminal(master: int, slave: int, console_fd: int) -> None:
    """Send the master to the caller over the console socket (as runc sends it to podman's
    conmon or containerd's shim), then make the slave our controlling terminal and fds 0-2."""
    linux.send_fds(console_fd, b"/dev/ptmx", [master])
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, _TIOCSCTTY, 0)
    for i in (0, 1, 2):
        os.dup2(slave, i)
    if slave > 2:
        os.close(slave)


def receive_fd(sock) -> int:
    """One fd sent with SCM_RIGHTS (the pty master, on the caller's side)."""
    _, fds = linux.recv_fds(sock if isinstance(sock, int) else sock.fileno(), 1024, 1)
    if not fds:
        raise OSError("no fd came over the console socket")
    return fds[0]
