"""The verbs of images: init, pull, push, save, login, images, history and build.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from .base import Context, listing_arguments, usage_error

if TYPE_CHECKING:
    from ..engine import Engine


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", nargs="?", help="the directory to copy into the image")
    p.add_argument("--busybox", action="store_true", help="the built-in image, from the host's static busybox")
    p.add_argument("--name", help="also name the image NAME[:TAG]")


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", help="[registry[:port]/]name[:tag|@sha256:…] (Docker Hub by default)")
    p.add_argument("tag", nargs="?", help="the seed's form: pull NAME TAG")
    p.add_argument("--platform", help="os/arch[/variant] to choose from a multi-platform image")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="image id or name")
    p.add_argument("ref", nargs="?", help="where to: [registry[:port]/]name[:tag] (default: the image's name)")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")
    p.add_argument("--compression", choices=["gzip", "zstd"], default="gzip", help="the layers' (default gzip)")


def _save_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["docker", "oci"], default="docker",
                   help="docker-save tarball (default) or OCI image layout (a tar, or a dir if FILE ends with /)")
    p.add_argument("image", help="image id or name")
    p.add_argument("file", help="the tarball (or, for oci, a directory) to write")


def _login_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("registry", nargs="?", default="", help="host[:port] (default: Docker Hub)")
    p.add_argument("-u", "--username", required=True)
    p.add_argument("-p", "--password", help="the password (or --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--insecure", action="store_true")


def _login(e: Engine, a: argparse.Namespace, ctx: Context):
    import sys
    password = sys.stdin.readline().rstrip("\n") if a.password_stdin else a.password
    if password is None:
        raise usage_error(f"{ctx.prog} login: give -p PASSWORD or --password-stdin")
    return e.login(a.registry, a.username, password, insecure=a.insecure)


def _init(e: Engine, a: argparse.Namespace, ctx: Context):
    if bool(a.busybox) == bool(a.directory):
        raise usage_error(f"{ctx.prog} init: give a directory, or --busybox ({ctx.hint})")
    return e.busybox() if a.busybox else e.init(a.directory, a.name)


def _images_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="accepted (there are no intermediate images)")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="dangling=true|false, reference=PATTERN, label=…, before=IMAGE, since=IMAGE")
    listing_arguments(p, "image", "the wider one: names, layers, created")
    p.add_argument("reference", nargs="?", help="only images whose name matches, e.g. busybox or 'busy*:*'")


def _images(e: Engine, a: argparse.Namespace, ctx: Context):
    from .. import listing
    listing.check(a.format, listing.IMAGES)
    filters = list(a.filter) + ([f"reference={a.reference}"] if a.reference else [])
    return e.images(filters=filters or None)


def _history_args(p: argparse.ArgumentParser) -> None:
    listing_arguments(p, "image", "IMAGE, CREATED, CREATED BY, SIZE, COMMENT")
    p.add_argument("image", help="image id or name")


def _history(e: Engine, a: argparse.Namespace, ctx: Context):
    from .. import listing
    listing.check(a.format, listing.HISTORY)
    return e.history(a.image)


def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]", help="name the image (repeatable)")
    p.add_argument("-f", "--file", metavar="FILE", help="the Dockerfile (default CONTEXT/Dockerfile; - reads stdin)")
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="a build argument (repeatable)")
    p.add_argument("--target", metavar="STAGE", help="build this stage (a name or an index) and the ones it needs")
    p.add_argument("--no-cache", action="store_true", help="run every step again, reuse nothing")
    p.add_argument("--pull", action="store_true", help="pull a FROM image from its registry again")
    p.add_argument("--network", metavar="NET", help="the RUN steps' network: bridge (default), none, or a name")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("context", help="the directory COPY and ADD take files from")


def build_args_of(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """--build-arg K=V; a bare K takes its value from the face's environment (`environ`, else
    this process's), as Docker does (and is left out when the environment has none)."""
    import os
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"Invalid build arg '{item}': use --build-arg NAME=VALUE")
        if eq:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


def _build(e: Engine, a: argparse.Namespace, ctx: Context):
    text = getattr(a, "dockerfile_text", None)
    if text is None and a.file == "-":
        import sys
        text = sys.stdin.read()
    output = None if a.quiet else ctx.on_output
    build_args = build_args_of(a.build_arg, ctx.environ or None)
    return e.build(a.context, a.tag, dockerfile=a.file, dockerfile_text=text, build_args=build_args,
                   target=a.target, no_cache=a.no_cache, pull=a.pull, network=a.network,
                   on_output=(lambda chunk, stream="stdout": output(chunk, stream)) if output else None)
