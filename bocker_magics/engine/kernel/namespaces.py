"""Namespaces as the kernel shows them: the links of /proc/PID/ns.

Each link reads `KIND:[INODE]`; two processes share a namespace exactly when their inodes
are equal (article 2.1.3).
"""

from __future__ import annotations

import os
import re

# Every kind the kernel may show, in the order of `ls /proc/PID/ns`.
KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
         "user", "uts")
_LINK = re.compile(r"^(\w+):\[(\d+)\]$")


def ns_links(pid: int | str = "self") -> dict[str, str]:
    """{kind: 'kind:[inode]'} for every namespace link of the process."""
    base = f"/proc/{pid}/ns"
    links = {}
    for kind in KINDS:
        try:
            links[kind] = os.readlink(os.path.join(base, kind))
        except FileNotFoundError:
            continue  # an older kernel without this kind
    return links


def ns_inodes(pid: int | str = "self") -> dict[str, int]:
    """{kind: inode}: the namespace ids, comparable between processes."""
    return {kind: int(_LINK.match(link).group(2)) for kind, link in ns_links(pid).items()}  # type: ignore[union-attr]


def parse_links(text: str) -> dict[str, int]:
    """Inodes from lines of `NAME KIND:[INODE]` (or just `KIND:[INODE]`), as printed by
    `for n in /proc/self/ns/*; do echo ${n##*/} $(readlink $n); done`. The file name
    matters: pid_for_children's link reads `pid:[…]` too."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        m = _LINK.match(words[-1])
        if m:
            out[words[0] if len(words) == 2 else m.group(1)] = int(m.group(2))
    return out
