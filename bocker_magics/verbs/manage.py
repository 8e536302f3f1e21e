"""The verbs with an action word: container prune and image prune (a question before they
remove), system (df, info, service), volume and network.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .base import Context, each, usage_error

if TYPE_CHECKING:
    from ..engine import Engine


def _prune_args(p: argparse.ArgumentParser, all_help: str | None = None) -> None:
    p.add_argument("action", choices=["prune"], help="prune: remove what nothing uses")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for a confirmation")
    if all_help:
        p.add_argument("-a", "--all", action="store_true", help=all_help)
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="label=…, until=…")


def _confirmed(ctx: Context, a: argparse.Namespace, question: str, verb: str) -> bool:
    """prune without -f: asked where the face can ask (a terminal), else refused."""
    if a.force:
        return True
    if ctx.confirm is None:
        raise usage_error(f"{ctx.prog} {verb} {question.lower()}: add -f to go on (nothing was removed)")
    return ctx.confirm(f"WARNING! This {question.lower()}.\nAre you sure you want to continue? [y/N] ")


def _container_prune(e: Engine, a: argparse.Namespace, ctx: Context):
    from ..engine import PruneResult, check_prune_filters
    check_prune_filters(a.filter, "container prune")  # a bad filter before the question
    if not _confirmed(ctx, a, "Will remove all stopped containers", "container prune"):
        return PruneResult()
    return e.container_prune(a.filter)


def _image_prune(e: Engine, a: argparse.Namespace, ctx: Context):
    from ..engine import PruneResult, check_prune_filters
    check_prune_filters(a.filter, "image prune")
    what = "Will remove all images without at least one container" if a.all else "Will remove all dangling images"
    if not _confirmed(ctx, a, what, "image prune"):
        return PruneResult()
    return e.image_prune(a.all, a.filter)


def _system_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["df", "info", "service"],
                   help="df: disk usage; info: as bocker info; service: serve the Docker Engine API (api/)")
    p.add_argument("-H", "--host", default=None, help="service: where, unix:///run/bocker/docker.sock by default")
    p.add_argument("--time", "-t", type=float, default=None, metavar="SECONDS",
                   help="service: end after SECONDS without a request (0: never; default 300)")
    p.add_argument("--group", default=None, help="service: the group that may use the socket (0660; else root's)")


def _system(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.action == "service":
        from ..api import DEFAULT_HOST, DEFAULT_IDLE, serve
        if a.time is not None and a.time < 0:
            raise usage_error("--time takes a number of seconds, 0 or more")
        serve(e, a.host or DEFAULT_HOST, DEFAULT_IDLE if a.time is None else a.time, a.group)
        return None
    return e.system_df() if a.action == "df" else e.info()


# -- volumes -------------------------------------------------------------------------------
def _volume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["create", "ls", "inspect", "rm"])
    p.add_argument("names", nargs="*", metavar="NAME", help="the volumes (create: at most one; a random name if "
                   "none)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="create: a label")
    p.add_argument("-q", "--quiet", action="store_true", help="ls: only the names")
    p.add_argument("--format", metavar="FORMAT", help="ls: table, json, or a Go template such as '{{.Name}}'")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="ls: name=…, dangling=true|false, label=…")
    p.add_argument("-f", "--force", action="store_true", help="rm: a missing volume is no error")


def _volume(e: Engine, a: argparse.Namespace, ctx: Context):
    from .. import listing
    used = {"create": ("label",), "ls": ("quiet", "format", "filter"), "inspect": (), "rm": ("force",)}[a.action]
    for option, flag in (("label", "--label"), ("quiet", "-q"), ("format", "--format"), ("filter", "--filter"),
                         ("force", "-f")):
        if getattr(a, option) and option not in used:
            raise usage_error(f"{ctx.prog} volume {a.action}: {flag} is an option of volume "
                              + {"label": "create", "quiet": "ls", "format": "ls", "filter": "ls",
                                 "force": "rm"}[option] + f" ({ctx.hint})")
    if a.action == "create":
        if len(a.names) > 1:
            raise usage_error(f"{ctx.prog} volume create: give one name (or none, for a random one)")
        return e.volume_create(a.names[0] if a.names else None, a.label)
    if a.action == "ls":
        if a.names:
            raise usage_error(f"{ctx.prog} volume ls: no names (use --filter name=…)")
        listing.check(a.format, listing.VOLUMES)
        return e.volume_ls(a.filter)
    if not a.names:
        raise usage_error(f"{ctx.prog} volume {a.action}: give the volume's name ({ctx.hint})")
    if a.action == "inspect":
        return each(lambda e, n: e.volume_inspect(n))(e, a.names)
    return each(lambda e, n: e.volume_rm(n, force=a.force) and n)(e, a.names)


def _network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["ls", "inspect", "create", "rm", "connect", "disconnect"])
    p.add_argument("name", nargs="?", help="the network (inspect, create, rm, connect, disconnect)")
    p.add_argument("container", nargs="?", help="connect, disconnect: the container")
    p.add_argument("--subnet", help="create: an IPv4 subnet, e.g. 172.19.0.0/24")
    p.add_argument("--gateway", help="create: the bridge's address (default: the first host)")
    p.add_argument("--bridge", help="create: the bridge device's name (default bk-NAME)")
    p.add_argument("--internal", action="store_true",
                   help="create: no way out (no NAT, no default route for its containers)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="create: a bridge option (com.docker.network.bridge.name=NAME, "
                        "com.docker.network.bridge.enable_ip_masquerade=false)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="create: a label")
    p.add_argument("--alias", action="append", default=[], metavar="NAME",
                   help="connect: another name of the container on that network")
    p.add_argument("--ip", metavar="IPv4", help="connect: a static address in the network's subnet")
    p.add_argument("-f", "--force", action="store_true", help="disconnect: even when its interface is gone")


def _pairs(flag: str, values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not key or (not sep and flag != "--label"):
            raise usage_error(f"Invalid {flag} '{v}': give KEY=VALUE")
        out[key] = value
    return out


def _network(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.action == "ls":
        return e.network_ls()
    if not a.name:
        raise usage_error(f"{ctx.prog} network {a.action}: give the network's name ({ctx.hint})")
    if a.action in ("connect", "disconnect"):
        if not a.container:
            raise usage_error(f"{ctx.prog} network {a.action}: give the network and the container, e.g. "
                              f"{ctx.prog} network {a.action} mynet web ({ctx.hint})")
        if a.action == "connect":
            return e.network_connect(a.name, a.container, aliases=a.alias, ip=a.ip)
        return e.network_disconnect(a.name, a.container, force=a.force)
    if a.container:
        raise usage_error(f"{ctx.prog} network {a.action} takes one name, not '{a.container}' ({ctx.hint})")
    if a.action == "inspect":
        return e.network_inspect(a.name)
    if a.action == "create":
        return e.network_create(a.name, a.subnet, a.gateway, a.bridge, labels=_pairs("--label", a.label) or None,
                                internal=a.internal, options=_pairs("-o", a.opt) or None)
    return e.network_rm(a.name)
