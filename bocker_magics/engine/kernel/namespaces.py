"""Namespaces as the kernel shows them: the links of /proc/PID/ns.

Each link reads `KIND:[INODE]`; two processes share a namespace exactly when their inodes
are equal (article 2.1.3).
"""

from __future__ import annotations

import os

# Every kind the kernel may show, in the order of `ls /proc/PID/ns`.
KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
         "user", "uts")
_LINKS: list = []  # the compiled `KIND:[INODE]` pattern: `re` is imported when a link is read
# (bocker-runc's create checks namespace paths here, and importing `re` is a visible share of a create)


def _link():
    if not _LINKS:
        import re
        _LINKS.append(re.compile(r"^(\w+):\[(\d+)\]$"))
    return _LINKS[0]


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
    return {kind: int(_link().match(link).group(2)) for kind, link in ns_links(pid).items()}  # type: ignore[union-attr]


def parse_links(text: str) -> dict[str, int]:
    """Inodes from lines of `NAME KIND:[INODE]` (or just `KIND:[INODE]`), as printed by
    `for n in /proc/self/ns/*; do echo ${n##*/} $(readlink $n); done`. The file name
    matters: pid_for_children's link reads `pid:[…]` too."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        m = _link().match(words[-1])
        if m:
            out[words[0] if len(words) == 2 else m.group(1)] = int(m.group(2))
    return out


# -- a namespace by path (linux.namespaces[].path) --------------------------------------------
# the spec's type -> (its clone flag, the name the kernel gives it)
SPEC_TYPES = {"mount": (0x00020000, "mnt"), "uts": (0x04000000, "uts"), "ipc": (0x08000000, "ipc"),
              "network": (0x40000000, "net"), "pid": (0x20000000, "pid"), "user": (0x10000000, "user"),
              "cgroup": (0x02000000, "cgroup"), "time": (0x00000080, "time")}
_NS_GET_NSTYPE = 0xB703  # ioctl_ns(2): the CLONE_NEW* flag of the namespace an fd names


def kind_of(path: str) -> str | None:
    """The spec's type of the namespace at `path` (/proc/PID/ns/net, a bind-mounted
    /run/netns/NAME), or None when the file is no namespace."""
    import fcntl
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        flag = fcntl.ioctl(fd, _NS_GET_NSTYPE)
    except OSError:
        return None
    finally:
        os.close(fd)
    return next((t for t, (f, _) in SPEC_TYPES.items() if f == flag), None)


def check_paths(namespaces) -> None:
    """runc's checks of linux.namespaces before anything is made: a type given once, and a
    path that is a namespace of that very type (runtime-tools' linux_ns_path_type). Raises
    ValueError with one line."""
    seen: set[str] = set()
    for ns in namespaces:
        if ns.type in seen:
            raise ValueError(f"malformed spec file: duplicated ns {ns.type!r}")
        seen.add(ns.type)
        if not ns.path:
            continue
        try:
            actual = kind_of(ns.path)
        except OSError as e:
            raise ValueError(f"the {ns.type} namespace path {ns.path}: {e.strerror.lower()}") from None
        if actual is None:
            raise ValueError(f"the {ns.type} namespace path {ns.path} is not a namespace (give a /proc/PID/ns/ file "
                             "or a bind mount of one)")
        if actual != ns.type:
            wanted = SPEC_TYPES[ns.type][1]
            raise ValueError(f"the {ns.type} namespace path {ns.path} is {_a(actual)} {actual} namespace: give "
                             f"{_a(wanted)} {wanted} namespace")


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
