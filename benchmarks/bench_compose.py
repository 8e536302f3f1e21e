#!/usr/bin/env python3
"""`bocker compose` against docker-compose 1.29 on dockerd 20.10, and bocker's resolver of user
networks against dockerd's embedded DNS, in one run.

Part 1, a stack of three busybox services (db; api depending on db; web depending on api, one
published port; no healthcheck, on the project's default network), each program exiting at once
on SIGTERM:

  bocker_up      `bocker compose -p P -f F up -d --wait`, the whole command (the venv's `bocker`,
                 through its server, as a user runs it)
  dc_up          `docker-compose -p P -f F up -d` (Debian's 1.29.2; it has no --wait: with no
                 healthcheck both return once every container runs) against dockerd 20.10
  bocker_down    `bocker compose -p P -f F down -v`
  dc_down        `docker-compose -p P -f F down -v`

Each round brings the stack up and down with one tool, then with the other, the order
alternating from round to round (A B B A); after every up, three running containers are checked,
after every down none, outside the timing. Ratios of medians: bocker_up/dc_up and
bocker_down/dc_down, target <= 0.5 each.

Part 2, one name from inside a container: a client container and a target container on a user
network (bocker: `network create` + two `run -d --network`; dockerd: the same with the docker
CLI). The queries are sent by one small Python program (dnspython builds the question once; the
loop sends it over UDP to 127.0.0.11:53 with a new id each time and waits for the answer, timing
each with perf_counter) started by `nsenter --net --target PID` of the client container's pid 1:
the same program, interpreter and socket calls for both, only the network namespace differs.
bocker's resolver answers there itself; dockerd's answer reaches it through the DNAT rule dockerd
puts in the container's namespace (127.0.0.11:53 -> its resolver's port). Every answer is checked
(id, NOERROR, one A record: the target's address). 1,000 queries each after 100 warm-ups, in 10
blocks of 100 alternating A B B A; ratio of the medians bocker/dockerd, target <= 1.0. The same
question is asked again and again (only its id changes), as a program that looks a name up in a
loop does: bocker's resolver answers a repeated question from its cache (kept while the names
table is unchanged); dockerd's builds each answer. To time first answers (dnspython parsing the
question and writing the answer each time), run the benchmark with BOCKER_RESOLVER_CACHE=0 in its
environment: the resolver daemon the run starts inherits it.

dockerd runs as tests/support/compose_peer.py starts it for the tests: its own data root, exec
root and socket, `--bridge none --iptables=false`, docker-proxy for the port, in a sandbox (mount
+ network namespace); bocker runs in this benchmark's own network namespace with a root of its
own. Both use the busybox image of `bocker save`.

Run as root:
    .venv/bin/python benchmarks/bench_compose.py [--runs 10] [--warmup 1] [--queries 1000] [--json FILE]
Exit status: 0 (targets met or not), 1 if a method failed, 2 if the host was left unclean.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import bench_run as common  # noqa: E402
from bench_cli import default_bocker  # noqa: E402

from tests.support import peers  # noqa: E402
from tests.support.compose_peer import ComposePeer  # noqa: E402

TARGET_COMPOSE = 0.5
TARGET_RESOLVER = 1.0
PROJECT = "benchstack"
PORT = 18090

STACK = f"""\
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
  api:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    environment: [DB=db]
    depends_on: [db]
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    depends_on: [api]
    ports: ["{PORT}:80"]
"""

# The query loop, run in the client container's network namespace (nsenter --net): argv NAME
# ADDRESS COUNT; prints the seconds of each query as JSON.
QUERY_LOOP = r"""
import json, socket, sys, time
import dns.message, dns.rdatatype
name, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
wire = bytearray(dns.message.make_query(name, dns.rdatatype.A).to_wire())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.11", 53))
times = []
for i in range(count):
    qid = (i * 7919 + 1) & 0xFFFF
    wire[0:2] = qid.to_bytes(2, "big")
    t = time.perf_counter()
    s.send(wire)
    while True:
        data = s.recv(4096)
        if data[:2] == wire[:2]:
            break
    times.append(time.perf_counter() - t)
    if i == 0 or i == count - 1:  # the answer checked in full, outside the timing of the others
        reply = dns.message.from_wire(data)
        got = [r.address for rrset in reply.answer for r in rrset if rrset.rdtype == dns.rdatatype.A]
        if reply.rcode() != 0 or got != [address]:
            sys.exit(f"bad answer for {name}: rcode {reply.rcode()}, {got} (wanted {address})")
    elif data[3] & 0x0F != 0 or data[6:8] != b"\x00\x01":
        sys.exit(f"bad answer for {name}: flags {data[2:4].hex()}, {int.from_bytes(data[6:8], 'big')} answers")
print(json.dumps(times))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="timed ups and downs per tool")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--skip-compose", action="store_true")
    ap.add_argument("--skip-resolver", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_compose.py needs root: it starts containers and dockerd", file=sys.stderr)
        return 1
    from bocker_magics.engine.network import dnsd
    from bocker_magics.server import server_processes, stop_servers
    common.own_network_namespace()

    # a short path: containerd's sockets under dockerd's exec root must fit in sun_path
    work = Path(tempfile.mkdtemp(prefix="bcmp-"))
    root = work / "root"
    cgroup_parent = f"bocker-compose-bench-{os.getpid()}"
    env = {**os.environ, "BOCKER_ROOT": str(root), "BOCKER_CGROUP_PARENT": cgroup_parent}
    env.pop("COMPOSE_PROJECT_NAME", None)
    bocker = default_bocker()
    if bocker[0] == sys.executable:
        env["PYTHONPATH"] = str(REPO)
    stack = work / "stack"
    stack.mkdir()
    (stack / "compose.yaml").write_text(STACK)
    compose_file = stack / "compose.yaml"
    methods = ("bocker_up", "dc_up", "bocker_down", "dc_down")
    samples: dict[str, list[float]] = {m: [] for m in (*methods, "bocker_dns", "dockerd_dns")}
    errors: dict[str, list[str]] = {m: [] for m in samples}
    leftovers: list[str] = []
    loads: list[tuple[float, float, float]] = [os.getloadavg()]
    peer: ComposePeer | None = None
    status = 0
    results: dict = {}

    def run_bocker(*a: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([*bocker, *a], env=env, capture_output=True, text=True, timeout=180)
        if check and r.returncode != 0:
            raise peers.PeerError(f"bocker {' '.join(a)} -> {r.returncode}: {r.stdout}{r.stderr}")
        return r

    try:
        run_bocker("init", "--busybox")
        run_bocker("save", "busybox", str(work / "busybox.tar"))
        peer = ComposePeer(work / "d").__enter__()
        peer.load(work / "busybox.tar")

        def bocker_running() -> int:
            return len(run_bocker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                  "--filter", "status=running").stdout.split())

        def dc_running() -> int:
            return len(peer.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split())

        def all_bocker() -> int:
            return len(run_bocker("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split())

        def all_dc() -> int:
            return len(peer.docker("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split())

        argv = {
            "bocker_up": [*bocker, "compose", "-p", PROJECT, "-f", str(compose_file), "up", "-d", "--wait"],
            "bocker_down": [*bocker, "compose", "-p", PROJECT, "-f", str(compose_file), "down", "-v"],
            "dc_up": peer.compose_argv(PROJECT, [compose_file], "up", "-d"),
            "dc_down": peer.compose_argv(PROJECT, [compose_file], "down", "-v"),
        }
        envs = {"bocker": env, "dc": peer.env}
        checks = {"bocker_up": lambda: bocker_running() == 3, "dc_up": lambda: dc_running() == 3,
                  "bocker_down": lambda: all_bocker() == 0, "dc_down": lambda: all_dc() == 0}

        def one(method: str, timed: bool) -> None:
            dt = common.timed_process(argv[method], errors[method], env=envs[method.split("_")[0]], cwd=stack,
                                      timeout=300)
            if dt is not None and not checks[method]():
                errors[method].append("the stack is not as it should be after it")
                dt = None
            if dt is not None and timed:
                samples[method].append(dt)

        if not args.skip_compose:
            for k in range(args.warmup + args.runs):
                order = ("bocker", "dc") if k % 4 in (0, 3) else ("dc", "bocker")
                for who in order:
                    one(f"{who}_up", k >= args.warmup)
                    one(f"{who}_down", k >= args.warmup)
                loads.append(os.getloadavg())

        if not args.skip_resolver:
            results["resolver"] = resolver_part(args, run_bocker, peer, samples, errors, loads)

        summaries = {m: common.summary(v) for m, v in samples.items() if v}
        ratios = {}
        for a, b in (("bocker_up", "dc_up"), ("bocker_down", "dc_down"), ("bocker_dns", "dockerd_dns")):
            if a in summaries and b in summaries:
                ratios[f"{a}/{b}"] = summaries[a]["median_ms"] / summaries[b]["median_ms"]
        print(f"{'method':<14}{'n':>6}{'median ms':>12}{'p90 ms':>10}{'min ms':>10}")
        for m, s in summaries.items():
            print(f"{m:<14}{s['n']:>6}{s['median_ms']:>12.3f}{s['p90_ms']:>10.3f}{s['min_ms']:>10.3f}")
        for name, value in ratios.items():
            target = TARGET_RESOLVER if "dns" in name else TARGET_COMPOSE
            print(f"{name:<26}{value:6.2f}  (target <= {target}: {'met' if value <= target else 'missed'})")
        lo, hi = min(x[0] for x in loads), max(x[0] for x in loads)
        print(f"load average (1 min) during the run: {lo:.1f}-{hi:.1f} on {os.cpu_count()} CPUs")
        if args.json:
            Path(args.json).write_text(json.dumps({"summaries": summaries, "ratios": ratios, "samples": samples,
                                                   "errors": errors, "loads": loads, **results}, indent=1) + "\n")
        status = common.report_failures(errors)
    except KeyboardInterrupt:
        status = 1
    finally:
        run_bocker("compose", "-p", PROJECT, "-f", str(compose_file), "down", "-v", check=False)
        if peer is not None:
            leftovers += peer.close() or []
        ids = run_bocker("ps", "-a", "-q", check=False).stdout.split()
        if ids:
            run_bocker("rm", "-f", *ids, check=False)
        run_bocker("network", "rm", "rbench", check=False)
        stop_servers(str(root))
        dnsd.stop(root)
        subprocess.run([*bocker, "gc"], env=env, capture_output=True)
        stop_servers(str(root))
        leftovers += [f"bocker server {pid}" for pid in server_processes(str(work))]
        leftovers += peers.remove_cgroups(cgroup_parent)
        shutil.rmtree(work, ignore_errors=True)
    return common.finish(status, leftovers, "no container, server, resolver, dockerd, mount or cgroup of it left")


def resolver_part(args, run_bocker, peer: ComposePeer, samples, errors, loads) -> dict:
    """Two containers per engine on a user network; QUERY_LOOP from the client's netns."""
    run_bocker("network", "create", "rbench")
    run_bocker("run", "-d", "--network", "rbench", "--name", "rtarget", "busybox", "sleep", "100000")
    run_bocker("run", "-d", "--network", "rbench", "--name", "rclient", "busybox", "sleep", "100000")
    b_target = json.loads(run_bocker("inspect", "rtarget").stdout)["Network"]["Address"]
    b_pid = json.loads(run_bocker("inspect", "rclient").stdout)["State"]["Pid"]
    peer.docker("network", "create", "rbench")
    peer.docker("run", "-d", "--network", "rbench", "--name", "rtarget", "busybox", "sleep", "100000")
    peer.docker("run", "-d", "--network", "rbench", "--name", "rclient", "busybox", "sleep", "100000")
    d_target = peer.docker("inspect", "-f", "{{.NetworkSettings.Networks.rbench.IPAddress}}", "rtarget").stdout.strip()
    d_pid = int(peer.docker("inspect", "-f", "{{.State.Pid}}", "rclient").stdout.strip())
    who = {"bocker_dns": (b_pid, b_target), "dockerd_dns": (d_pid, d_target)}

    def block(method: str, count: int) -> list[float]:
        pid, address = who[method]
        r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", sys.executable, "-I", "-c", QUERY_LOOP,
                            "rtarget", address, str(count)], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            errors[method].append(f"exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
            return []
        return json.loads(r.stdout)

    for method in who:
        block(method, 100)  # warm-ups: the first answers, caches, the resolver's sockets
    per = max(1, args.queries // args.blocks)
    for k in range(args.blocks):
        order = ("bocker_dns", "dockerd_dns") if k % 4 in (0, 3) else ("dockerd_dns", "bocker_dns")
        for method in order:
            samples[method] += block(method, per)
        loads.append(os.getloadavg())
    run_bocker("rm", "-f", "rtarget", "rclient")
    run_bocker("network", "rm", "rbench")
    peer.docker("rm", "-f", "rtarget", "rclient")
    peer.docker("network", "rm", "rbench")
    return {"addresses": {"bocker": b_target, "dockerd": d_target},
            "medians_us": {m: statistics.median(samples[m]) * 1e6 for m in who if samples[m]}}


if __name__ == "__main__":
    sys.exit(main())
