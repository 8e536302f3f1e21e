"""How each verb's result is printed as lines: the seed's formats (or Docker's, for the verbs
the seed lacks). commands.VERBS names one of these per verb (its `text`); the CLI prints
every result with it, and a notebook prints with it what has no view of its own (`ps -q`,
`port`, `info`...), so both faces show the same lines.

A renderer takes the verb's parsed arguments and its result, prints to sys.stdout (and
sys.stderr for what is not the result), and returns the exit status, or None for 0.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import format

_when = format.local_time


def lines(*texts: str) -> None:
    for line in texts:
        print(line)


def write_stream(data: bytes, stream: str = "stdout") -> None:
    """A container's output as it comes: stderr to stderr, once the engine keeps them apart."""
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.buffer.write(data)
    out.buffer.flush()


def nothing(args: Any, result: Any) -> None:
    """tag, rename: success is silence, as Docker's."""


def each_line(args: Any, result: Any) -> None:
    """stop, kill, pause, restart...: each container the verb acted on, a line each."""
    lines(*result)


def removed(args: Any, result: Any) -> None:
    lines(*(f"Removed: {ref}" for ref in result))


def created(args: Any, result: Any) -> None:
    lines(f"Created: {result.id}")


def result_id(args: Any, result: Any) -> None:
    lines(result.id)


def as_json(args: Any, result: Any) -> None:
    print(json.dumps(result, indent=2, sort_keys=True))


def prefixed(prefix: str):
    """`Pushed: REF`, `Saved: FILE`, `Login Succeeded: REGISTRY`."""
    def render(args: Any, result: Any) -> None:
        lines(f"{prefix}: {result}")
    return render


def logged_out(args: Any, result: Any) -> None:
    """Docker's two answers: what was forgotten, or that there was nothing to forget."""
    registry, removed = result
    lines(f"Removing login credentials for {registry}" if removed else f"Not logged in to {registry}")


def loaded(args: Any, images: Any) -> None:
    lines(*(f"Loaded: {img.id}" + (f" ({', '.join(img.names)})" if img.names else "") for img in images))


def images(args: Any, result: Any) -> None:
    """The seed's two columns (IMAGE_ID, SOURCE); --format table is the wider table."""
    from . import listing
    if args.quiet:
        return lines(*(img.id for img in result))
    if args.format is None:
        print("IMAGE_ID\t\tSOURCE")
        return lines(*(f"{img.id}\t\t{img.source}" for img in result))

    def wide() -> list[str]:
        return ["IMAGE_ID\t\tSOURCE\t\tNAMES\t\tLAYERS\t\tCREATED"] + [
            f"{img.id}\t\t{img.source}\t\t{','.join(img.names) or '<none>'}\t\t{len(img.layers)}\t\t"
            f"{_when(img.created)}" for img in result]

    rows = [listing.image_row(img, _image_size(img), args.no_trunc) for img in result]
    lines(*listing.render(args.format, rows, listing.IMAGES, wide))


def _image_size(img: Any):
    def size() -> int:
        from .engine import image_size
        return image_size(img)
    return size


def ps(args: Any, result: Any) -> None:
    """The seed's two columns (CONTAINER_ID, COMMAND) for every container; --format table is
    Docker's wider table (status, image, created, restarts, ports, name)."""
    from . import listing
    if args.quiet:
        return lines(*(c.id for c in result))
    if args.format is None:
        print("CONTAINER_ID\t\tCOMMAND")
        return lines(*(f"{c.id}\t\t{c.command}" for c in result))

    def wide() -> list[str]:
        return ["CONTAINER_ID\t\tCOMMAND\t\tSTATUS\t\tIMAGE\t\tCREATED\t\tRESTARTS\t\tPORTS\t\tNAME"] + [
            f"{c.id}\t\t{listing.shorten(c.command, args.no_trunc, 60)}\t\t{c.status_text}\t\t{c.image_name}"
            f"\t\t{_when(c.created)}\t\t{c.restart_count}\t\t{listing.ports_text(c)}\t\t{c.name or ''}"
            for c in result]

    rows = [listing.container_row(c, args.no_trunc) for c in result]
    lines(*listing.render(args.format, rows, listing.CONTAINERS, wide))


def history(args: Any, rows: Any) -> None:
    from . import listing
    if args.quiet:
        return lines(*(h.image for h in rows))
    fields = [listing.history_row(h, args.no_trunc) for h in rows]

    def wide() -> list[str]:
        return ["IMAGE\t\tCREATED\t\tCREATED_BY\t\tSIZE\t\tCOMMENT"] + [
            "\t\t".join([f["ID"], f["CreatedSince"], f["CreatedBy"], f["Size"], f["Comment"]]) for f in fields]

    lines(*listing.render(args.format or "table", fields, listing.HISTORY, wide))


def top(args: Any, processes: Any) -> None:
    print("PID\t\tCONTAINER_PID\t\tPPID\t\tUSER\t\tSTAT\t\tTIME\t\tCOMMAND")
    for p in processes:
        minutes, seconds = divmod(int(p.cpu_seconds), 60)
        print(f"{p.pid}\t\t{p.container_pid}\t\t{p.ppid}\t\t{p.user}\t\t{p.state}\t\t"
              f"{minutes}:{seconds:02d}\t\t{p.command}")


def port(args: Any, mappings: Any) -> None:
    lines(*((m.host for m in mappings) if args.private_port else map(str, mappings)))


def cp(args: Any, result: Any) -> None:
    if not args.quiet and args.destination != "-":
        sys.stderr.write(f"Successfully copied {format.count(result.files, 'file')} "
                         f"({format.size(result.bytes)}) to {result.destination}\n")


def pruned(title: str):
    """container prune, image prune: what went, the space it freed, what could not go (exit 1)."""
    def render(args: Any, result: Any) -> int | None:
        if result.removed:
            lines(title, *result.removed, "")
        lines(f"Total reclaimed space: {format.size(result.reclaimed)}")
        for line in result.errors:
            sys.stderr.write(line + "\n")
        return 1 if result.errors else None
    return render


def volume(args: Any, result: Any) -> None:
    from . import listing
    if args.action == "create":
        return lines(result.name)
    if args.action == "rm":
        return lines(*result)
    if args.action == "inspect":
        return as_json(args, result)
    if args.quiet:
        return lines(*(v.name for v in result))

    def wide() -> list[str]:
        return ["DRIVER\t\tVOLUME_NAME"] + [f"{v.driver}\t\t{v.name}" for v in result]

    lines(*listing.render(args.format or "table", [listing.volume_row(v) for v in result], listing.VOLUMES, wide))


def disk_usage(rows: Any) -> None:
    print("TYPE\t\tTOTAL\t\tACTIVE\t\tSIZE\t\tRECLAIMABLE")
    for r in rows:
        share = f" ({100 * r.reclaimable // r.size}%)" if r.size else ""
        print(f"{r.kind}\t\t{r.total}\t\t{r.active}\t\t{format.size(r.size)}\t\t"
              f"{format.size(r.reclaimable)}{share}")


def info(args: Any, i: Any) -> None:
    lines(f"Containers: {i.containers}", f" Running: {i.running}", f" Paused: {i.paused}",
          f" Stopped: {i.stopped}", f"Images: {i.images}", f"Volumes: {i.volumes}",
          f"Server Version: {i.server_version}", f"Storage Driver: {i.storage_driver}",
          f" Backing Filesystem: {i.backing_filesystem}", f"Cgroup Driver: {i.cgroup_driver}",
          f"Cgroup Version: {i.cgroup_version}", f"Networks: {' '.join(i.networks)}",
          f"Security Options: {', '.join(i.security_options) or 'none'}", f"Kernel Version: {i.kernel}",
          f"Operating System: {i.operating_system}", "OSType: linux", f"Architecture: {i.architecture}",
          f"CPUs: {i.cpus}", f"Total Memory: {format.size(i.memory)}", f"Bocker Root Dir: {i.root_dir}",
          *(f"{key}: {value}" for key, value in getattr(i, "engine_config", [])), *i.warnings)


def version(args: Any, v: Any) -> None:
    lines(*(f"{key}: {value}" for key, value in v.lines()))


def system(args: Any, result: Any) -> None:
    if args.action == "service":  # it served until it ended: nothing to print
        return None
    return disk_usage(result) if args.action == "df" else info(args, result)


def run(args: Any, result: Any) -> int:
    if args.detach:
        print(result.id)
    else:
        left_running(args, result)
    return result.exit_code


def left_running(args: Any, result: Any) -> int:
    """The detach keys left it running: a line that says so and how to come back (stderr,
    so that its output stays its own)."""
    if getattr(result, "detached", False):
        sys.stderr.write(f"\nread escape sequence: {result.id} runs on (bocker attach {result.id})\n")
    return result.exit_code


def exit_code(args: Any, result: Any) -> int:
    """exec: its output went out as it came; the status is the command's."""
    return result.exit_code


def build(args: Any, result: Any) -> None:
    if args.quiet:
        lines(result.image.id)


def start(args: Any, result: Any) -> int | None:
    return left_running(args, result) if args.attach else lines(*args.containers)


def stats(args: Any, result: Any) -> None:
    print("CONTAINER_ID\t\tCPU_SEC\t\tMEM_CURRENT\t\tMEM_PEAK\t\tMEM_LIMIT\t\tOOM_KILLS\t\tPIDS")
    for cid, s in result.items():
        cpu = "-" if s.cpu_seconds is None else f"{s.cpu_seconds:.3f}"
        memory = [format.size(v) for v in (s.memory_current, s.memory_peak, s.memory_limit)]
        counts = ["-" if v is None else str(v) for v in (s.oom_kills, s.pids_current)]
        print("\t\t".join([cid, cpu, *memory, *counts]))


def network(args: Any, result: Any) -> None:
    if args.action == "ls":
        print("NETWORK\t\tBRIDGE\t\tSUBNET\t\tGATEWAY\t\tCONTAINERS")
        for n in result:
            print(f"{n['name']}\t\t{n['bridge']}\t\t{n['subnet']}\t\t{n['gateway']}\t\t{len(n['Containers'])}")
    elif args.action == "rm":
        print(f"Removed: {result}")
    elif args.action in ("connect", "disconnect"):
        pass  # as docker's: nothing to say when it worked
    else:
        print(json.dumps(result, indent=2, sort_keys=True))


def logs(args: Any, records: Any) -> None:
    """Each line to the stream it was printed on, as `docker logs` does; -f until it stops."""
    for r in records:
        write_stream(r.text(args.timestamps), r.stream)


def wait(args: Any, result: Any) -> None:
    lines(str(result) if result is not None else "unknown")


def diff(args: Any, changes: Any) -> None:
    lines(*(f"{ch.kind} {ch.path}{'  (opaque)' if ch.opaque else ''}" for ch in changes))


def gc(args: Any, result: Any) -> None:
    lines(*(f"Removed: {line}" for line in result))


def _aligned(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, three spaces apart (Compose's tables)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["   ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def compose_ps(containers: Any) -> list[str]:
    from . import listing
    rows = [["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"]]
    rows += [[sc.container.name or sc.container.id, sc.container.image_name,
              listing.shorten(f'"{sc.container.command}"', False, 24), sc.service, sc.container.status_text,
              listing.ports_text(sc.container)] for sc in containers]
    return _aligned(rows)


def compose(args: Any, result: Any) -> int | None:
    """`compose VERB`: what the verb shows (up, logs and the rest printed as they went)."""
    action, value = result.action, result.value
    if action == "ps":
        lines(*compose_ps(value))
    elif action == "config":
        import yaml
        sys.stdout.write(yaml.safe_dump(value, sort_keys=False, default_flow_style=False))
    elif action == "top":
        for sc, processes in value:
            print(sc.container.name or sc.container.id)
            rows = [["UID", "PID", "PPID", "STAT", "TIME", "CMD"]]
            for p in processes:
                minutes, seconds = divmod(int(p.cpu_seconds), 60)
                rows.append([str(p.user), str(p.pid), str(p.ppid), p.state, f"{minutes}:{seconds:02d}", p.command])
            lines(*_aligned(rows), "")
    elif action == "images":
        rows = [["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]]
        for sc, img in value:
            name = sc.container.image_name or ""
            repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
            rows.append([sc.container.name or sc.container.id, repo, tag, img.id if img is not None else "",
                         format.size(_image_size(img)()) if img is not None else "-"])
        lines(*_aligned(rows))
    elif action in ("exec", "run"):
        return value.exit_code
    return None
