"""The verbs that look at or act on existing containers: ps, logs, stop and kill, top, port,
cp, commit, inspect and diff, stats, rm.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from .base import Context, container_argument, containers_argument, listing_arguments, usage_error, whole_number

if TYPE_CHECKING:
    from ..engine import Engine


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what it prints, until it stops")
    p.add_argument("--tail", metavar="N", help="only the last N lines (all: everything)")
    p.add_argument("-t", "--timestamps", action="store_true", help="each line with its time")
    p.add_argument("--since", metavar="TIME", help="only lines since TIME (RFC 3339, seconds since the epoch, "
                   "or a duration such as 10m)")
    p.add_argument("container", help="container id or name")


def _stop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--time", type=float, default=None, help="seconds before SIGKILL (default: its "
                   "--stop-timeout, or 10)")
    containers_argument(p)


def _kill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="signal name or number (default KILL)")
    containers_argument(p)


def _commit_args(p: argparse.ArgumentParser) -> None:
    container_argument(p)
    p.add_argument("image", help="an img_<hex> id (the seed's form) or a name[:tag]")


def _ref_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", help="container or image, by id or name")


def _refs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="*", metavar="container", help="containers (default: every running one)")


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="also remove its anonymous volumes (-v /path); named ones stay")
    p.add_argument("refs", nargs="+", metavar="ref", help="containers or images, by id or name")


def _ps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="every container (ps lists every one anyway, "
                   "as the seed does)")
    p.add_argument("-n", "--last", metavar="N", help="only the N made last")
    p.add_argument("-l", "--latest", action="store_true", help="only the one made last")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="status=…, name=…, ancestor=…, label=…, id=…, exited=…, volume=…, network=…")
    listing_arguments(p, "container", "Docker's wider one: status, image, created, restarts, ports, name")


def _ps(e: Engine, a: argparse.Namespace, ctx: Context):
    from .. import listing
    listing.check(a.format, listing.CONTAINERS)
    last = whole_number("--last", a.last) if a.last is not None else None
    if last is not None and last < 0:
        raise InvalidArgument(f"Invalid value '{a.last}' for --last: give 0 or more")
    return e.ps(filters=a.filter, last=1 if a.latest else last)


# -- top, port, cp ------------------------------------------------------------------------
def _top_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")
    p.add_argument("ps_options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _top(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.ps_options:
        raise usage_error(f"{ctx.prog} top: no ps options ('{' '.join(a.ps_options)}'): it shows every process "
                          "with its pids, user, state, cpu time and command")
    return e.top(a.container)


def _port_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")
    p.add_argument("private_port", nargs="?", metavar="PORT[/PROTO]", help="only this container port")


def _cp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="keep the files' owners (uid and gid)")
    p.add_argument("-L", "--follow-link", action="store_true", help="copy what a symlink SRC points to")
    p.add_argument("-q", "--quiet", action="store_true", help="no line saying what was copied")
    p.add_argument("source", metavar="SRC", help="CONTAINER:PATH or a host path (- : a tar stream on stdin)")
    p.add_argument("destination", metavar="DEST", help="CONTAINER:PATH or a host path (- : a tar stream on stdout)")


def _cp(e: Engine, a: argparse.Namespace, ctx: Context):
    return e.cp(a.source, a.destination, archive=a.archive, follow_link=a.follow_link,
                stdin=ctx.binary_stdin, stdout=ctx.binary_stdout)


def _logs(e: Engine, a: argparse.Namespace, ctx: Context):
    from ..engine import parse_since
    tail = None if a.tail in (None, "all") else whole_number("--tail", a.tail)
    since = None if a.since is None else parse_since(a.since)
    return e.log_records(a.container, tail=tail, since=since, follow=a.follow)
