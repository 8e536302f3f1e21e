"""gc: what crashes left, found and removed, one reaper per kind of host object.

Every host object carries the container id in its name or path (cgroup <parent>/<id>, lease
file holding the id, veths vb<id> (vb<id>g, h... past eth0), state under containers/<id>), so what a kill -9 left at any
step is found from the store and the kernel alone.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

from .container.status import Status
from .network.model import veth_owner
from .spec import State
from .store import process_alive

if TYPE_CHECKING:
    from collections.abc import Callable

    from .container import Containers
    from .images import ImageStore
    from .network.networks import Networks


def collect(rooms: Containers, images: ImageStore, networks: Callable[[], Networks]) -> list[str]:
    """Run every reaper; a line per thing removed or corrected."""
    driver = rooms.cgroup_driver()
    done: list[str] = []
    containers = {c.id: c for c in rooms.list()}
    done += dead_containers(rooms, driver, containers)
    done += ended_auto_remove(rooms, containers)
    done += orphan_cgroups(driver, containers)
    done += stale_leases(rooms, networks())
    done += stray_veths(rooms, networks(), containers)
    done += half_made(rooms)
    done += broken_images(images)
    done += unused_layers(rooms, images)
    driver.remove_parent()  # only if empty
    return done


def dead_containers(rooms: Containers, driver, containers) -> list[str]:
    """A container whose monitor was killed (or that a reboot stopped): its cgroup and what
    still runs in it go, and its state says how it ended."""
    done = []
    for c in containers.values():
        if c.status is Status.BROKEN:
            done += broken(rooms, c)
            continue
        if c.status is not Status.DEAD:
            continue
        group = driver.group(c.id)
        if group.exists():
            group.destroy()  # kills what is left of the container first
            done.append(f"cgroup of {c.id}")
        state = c.state or State(id=c.id, status="stopped", bundle=str(rooms.store.container_dir(c.id)))
        state.status, state.phase, state.pid = "stopped", "exited", 0
        state.exit_code, state.finished_at = 255, time.time()
        state.error = "its monitor was killed or the host rebooted; cleaned up by gc"
        state.save(rooms.store.container_dir(c.id) / "state.json")
        done.append(f"state of {c.id}: exited (255)")
    return done


def ended_auto_remove(rooms: Containers, containers) -> list[str]:
    """An --rm container that ended with nobody to remove it (its monitor killed, its exit
    command failed): removed as its exit command would have (container/autoremove.py)."""
    from .container.autoremove import remove_if_ended
    done = []
    for cid, c in list(containers.items()):
        if c.record is not None and c.record.auto_remove and c.status in (Status.EXITED, Status.DEAD):
            if remove_if_ended(rooms, cid):  # a dead one was marked exited just before
                del containers[cid]
                done.append(f"container {cid} (--rm): removed, it had ended")
    return done


def broken(rooms: Containers, c) -> list[str]:
    """A container whose files are unreadable (a truncated state.json, say): its state is
    written anew from what is known when its record is readable, else it is removed."""
    cdir = rooms.store.container_dir(c.id)
    if c.record is not None:
        group = rooms.cgroup(c.id)
        if group is not None and group.exists():
            group.destroy()
        State(id=c.id, status="stopped", bundle=str(cdir), phase="exited", exit_code=255,
              finished_at=time.time(), error=f"its state was lost ({c.problem}); repaired by gc",
              created_at=c.created).save(cdir / "state.json")
        return [f"state of {c.id}: repaired (it was unreadable)"]
    rooms.cleanup(c)
    shutil.rmtree(cdir, ignore_errors=True)
    return [f"broken container {c.id} ({c.problem})"]


def orphan_cgroups(driver, containers) -> list[str]:
    done = []
    for cid in driver.list_groups():
        c = containers.get(cid)
        group = driver.group(cid)
        if c is None and group.pids():
            continue  # processes but no container here: another BOCKER_ROOT's, left alone
        if c is None or c.status.has_ended:
            group.destroy()
            done.append(f"cgroup {cid}")
    return done


def stale_leases(rooms: Containers, networks: Networks) -> list[str]:
    done = []
    for net in networks.list():
        for address, owner in networks.leases(net.name).items():
            if not rooms.holds_lease(owner):
                networks.release(net.name, address, owner)
                done.append(f"lease {net.name}/{address} of {owner}")
    return done


def stray_veths(rooms: Containers, networks: Networks, containers) -> list[str]:
    done = []
    if networks.used():
        running = {c.id for c in rooms.list() if c.running}
        for veth in networks.veths():
            owner = veth_owner(veth, containers)
            if owner not in running:
                networks.detach_ifname(veth)
                done.append(f"veth {veth}")
    return done


def half_made(rooms: Containers) -> list[str]:
    done = []
    store = rooms.store
    for path in store.stale_tmp():
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"half-made {path.name}")
    for tmp in store.containers.glob("*/state.json.*.tmp"):
        pid = int(tmp.name.split(".")[2]) if tmp.name.split(".")[2].isdigit() else 0
        if not pid or not process_alive(pid):
            tmp.unlink(missing_ok=True)
            done.append(f"half-written {tmp.parent.name}/{tmp.name}")
    return done


def broken_images(images: ImageStore) -> list[str]:
    """Image records that can't be read: removed (their layers follow if nothing else has them)."""
    done = []
    for img in images.list(include_removed=True):
        if img.broken:
            images.remove(img, in_use=False)
            done.append(f"broken image {img.id} ({img.problem})")
    return done


LAYER_GRACE_SECONDS = 60


def unused_layers(rooms: Containers, images: ImageStore) -> list[str]:
    """Layers no image record names (a record that was lost, a crash between two steps). A
    pull, load or build stores its layers before its image record: while one is under way (a
    live engine's scratch directory exists), or for a layer stored in the last minute, gc
    leaves them be."""
    store = rooms.store
    live = [p for p in store.tmp.iterdir() if p not in store.stale_tmp()]
    if live:
        return []
    now = time.time()
    with store.lock():
        used = {d for img in images.list(include_removed=True) for d in img.layers}
        used |= {d for c in rooms.list() if c.record is not None for d in c.record.layers}
        stale = [p for p in store.layers.iterdir() if f"sha256:{p.name}" not in used
                 and now - p.stat().st_mtime > LAYER_GRACE_SECONDS]
        if not stale:
            return []
        images.layers.drop_unused([f"sha256:{p.name}" for p in stale], used)
    return [f"unused layer {p.name[:12]}" for p in stale]
