"""The real docker CLI (Debian's docker.io 20.10, no dockerd) driving bocker through the API
service: what a terminal user types, and `bocker ps` seeing the same containers."""

from __future__ import annotations

import json
import subprocess
import time

from tests.support.api_helpers import DOCKER, service_fixture
from tests.support.session import bocker

service = service_fixture()


def out(r) -> str:
    return r.stdout.decode()


def test_run_in_the_foreground_prints_and_returns_the_exit_status(service):
    r = service.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert r.returncode == 7
    assert r.stdout == b"out\n" and r.stderr == b"err\n"
    assert service.docker("run", "--rm", "busybox", "true").returncode == 0
    r = service.docker("run", "--name", "cli-fg", "busybox", "sh", "-c", "echo kept; exit 6", check=False)
    assert (r.returncode, r.stdout) == (6, b"kept\n")   # wait?condition=next-exit, then it stays
    assert out(service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "cli-fg")).strip() == "exited 6"
    service.docker("rm", "cli-fg")


def test_run_with_stdin(service):
    r = service.docker("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input="piped in\n")
    assert out(r) == "PIPED IN\n"


def test_run_with_a_tty_gives_raw_output(service):
    r = service.docker("run", "-t", "--rm", "busybox", "sh", "-c", "tty >/dev/null && echo on-a-tty")
    assert out(r).replace("\r", "") == "on-a-tty\n"


def test_detached_run_ps_filters_logs_exec_stop_wait(service):
    cid = out(service.docker("run", "-d", "--name", "cli-d", "--label", "tier=web", "busybox", "sh", "-c",
                             "echo started; trap 'exit 3' TERM; while true; do sleep 0.1; done")).strip()
    assert len(cid) == 64
    # the same container in bocker's own listing
    assert f"ps_{cid[:10]}" in bocker("ps").stdout
    assert out(service.docker("ps", "-q", "--filter", "label=tier=web")).split() == [cid[:12]]
    assert out(service.docker("ps", "-q", "--filter", "label=tier")).split() == [cid[:12]]
    assert out(service.docker("ps", "-q", "--filter", "label=tier=db")).split() == []
    assert out(service.docker("ps", "-q", "--filter", "name=cli-d")).split() == [cid[:12]]
    assert out(service.docker("ps", "-q", "--filter", "status=running", "--filter", f"id={cid[:6]}")).split() == \
        [cid[:12]]
    deadline = time.monotonic() + 10
    while b"started" not in service.docker("logs", "cli-d").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out(service.docker("logs", "cli-d")) == "started\n"
    r = service.docker("exec", "cli-d", "sh", "-c", "echo in-exec; echo e >&2; exit 4", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (4, b"in-exec\n", b"e\n")
    assert out(service.docker("exec", "-i", "cli-d", "cat", input="to exec\n")) == "to exec\n"
    follow = subprocess.Popen([DOCKER, "logs", "-f", "cli-d"], stdout=subprocess.PIPE, env=service.env)
    service.docker("stop", "-t", "5", "cli-d")
    assert follow.communicate(timeout=20)[0] == b"started\n"   # -f ends when the container does
    assert out(service.docker("wait", "cli-d")).strip() == "3"
    assert out(service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "cli-d")).strip() == "exited 3"
    service.docker("rm", "cli-d")
    assert service.docker("inspect", "cli-d", check=False).returncode != 0


def test_cp_both_ways(service, tmp_path):
    service.docker("run", "-d", "--name", "cli-cp", "busybox", "sleep", "60")
    src = tmp_path / "in.txt"
    src.write_text("into the container\n")
    service.docker("cp", str(src), "cli-cp:/tmp/in.txt")
    assert out(service.docker("exec", "cli-cp", "cat", "/tmp/in.txt")) == "into the container\n"
    service.docker("exec", "cli-cp", "sh", "-c", "mkdir -p /data/sub && echo made > /data/sub/f")
    service.docker("cp", "cli-cp:/data", str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "f").read_text() == "made\n"
    service.docker("cp", "cli-cp:/tmp/in.txt", str(tmp_path / "one.txt"))
    assert (tmp_path / "one.txt").read_text() == "into the container\n"
    service.docker("rm", "-f", "cli-cp")


def test_create_start_attach_restart_rename_pause_top(service):
    service.docker("create", "--name", "cli-life", "busybox", "sleep", "60")
    assert out(service.docker("ps", "-a", "--filter", "status=created", "-q")).split()
    service.docker("start", "cli-life")
    service.docker("pause", "cli-life")
    assert out(service.docker("inspect", "-f", "{{.State.Status}}", "cli-life")).strip() == "paused"
    service.docker("unpause", "cli-life")
    assert "sleep 60" in out(service.docker("top", "cli-life"))
    service.docker("rename", "cli-life", "cli-life2")
    service.docker("restart", "-t", "1", "cli-life2")
    assert out(service.docker("inspect", "-f", "{{.State.Running}}", "cli-life2")).strip() == "true"
    r = service.docker("rm", "cli-life2", check=False)
    assert r.returncode != 0 and b"running" in r.stderr
    service.docker("rm", "-f", "cli-life2")
    r = service.docker("start", "-a", service.docker("create", "busybox", "echo", "attached").stdout.decode().strip())
    assert out(r) == "attached\n"


def test_ports_published_on_a_free_host_port(service):
    cid = out(service.docker("run", "-d", "-p", "127.0.0.1::8080", "busybox", "sleep", "60")).strip()
    mapping = out(service.docker("port", cid)).strip()
    assert mapping.startswith("8080/tcp -> 127.0.0.1:")
    assert int(mapping.rsplit(":", 1)[1]) > 0
    service.docker("rm", "-f", cid)


def test_build_images_tag_rmi_save_load(service, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo built > /built\n"
                                         "CMD [\"cat\", \"/hello.txt\"]\n")
    (tmp_path / "hello.txt").write_text("hello from a build\n")
    r = service.docker("build", "-t", "cli-built:1", str(tmp_path))
    text = out(r)
    assert "Step 1/4 : FROM busybox" in text and "Successfully tagged cli-built:1" in text
    assert "Successfully built " in text
    assert out(service.docker("run", "--rm", "cli-built:1")) == "hello from a build\n"
    assert "cli-built" in out(service.docker("images"))
    service.docker("tag", "cli-built:1", "cli-built:2")
    assert out(service.docker("images", "-q", "cli-built:2"))
    archive = tmp_path / "img.tar"
    service.docker("save", "-o", str(archive), "cli-built:2")
    service.docker("rmi", "cli-built:2")
    assert service.docker("image", "inspect", "cli-built:2", check=False).returncode != 0
    assert "Loaded image" in out(service.docker("load", "-i", str(archive)))
    assert out(service.docker("run", "--rm", "cli-built:2")) == "hello from a build\n"
    r = service.docker("build", "-t", "cli-bad", "-f", "-", str(tmp_path), input="FROM busybox\nRUN exit 3\n",
                       check=False)
    assert r.returncode != 0 and b"exit" in (r.stdout + r.stderr).lower()


def test_networks_and_volumes(service):
    service.docker("network", "create", "--subnet", "10.231.7.0/24", "--label", "team=api", "cli-net")
    assert "cli-net" in out(service.docker("network", "ls"))
    assert out(service.docker("network", "ls", "-q", "--filter", "label=team=api")).split() == \
        [out(service.docker("network", "inspect", "-f", "{{.Id}}", "cli-net")).strip()[:12]]
    assert out(service.docker("network", "ls", "-q", "--filter", "label=team=other")).split() == []
    cid = out(service.docker("run", "-d", "--network", "cli-net", "busybox", "sleep", "60")).strip()
    info = json.loads(out(service.docker("network", "inspect", "cli-net")))[0]
    assert info["IPAM"]["Config"][0]["Subnet"] == "10.231.7.0/24"
    assert info["Containers"][cid]["IPv4Address"].startswith("10.231.7.")
    # where it is already: Docker's refusal (an endpoint of that name exists there)
    r = service.docker("network", "connect", "cli-net", cid, check=False)
    assert r.returncode != 0 and b"already exists in network cli-net" in r.stderr
    # a second network: internal, its bridge named by -o, with a label; connected live as eth1
    service.docker("network", "create", "--internal", "--subnet", "10.231.8.0/24", "-o",
                   "com.docker.network.bridge.name=cli-int-br", "--label", "tier=back", "cli-int")
    inner = json.loads(out(service.docker("network", "inspect", "cli-int")))[0]
    assert inner["Internal"] is True and inner["Labels"] == {"tier": "back"}
    assert inner["Options"]["com.docker.network.bridge.name"] == "cli-int-br"
    service.docker("network", "connect", "--alias", "cli-second", "--ip", "10.231.8.20", "cli-int", cid)
    assert "10.231.8.20/24" in out(service.docker("exec", cid, "ip", "-o", "-4", "addr", "show", "eth1"))
    inner = json.loads(out(service.docker("network", "inspect", "cli-int")))[0]
    entry = inner["Containers"][cid]
    assert entry["IPv4Address"] == "10.231.8.20/24" and entry["MacAddress"] == "02:42:0a:e7:08:14"
    assert len(entry["EndpointID"]) == 64 and entry["Name"]
    nets = json.loads(out(service.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", cid)))
    assert set(nets) == {"cli-net", "cli-int"} and nets["cli-int"]["IPAddress"] == "10.231.8.20"
    assert "cli-second" in nets["cli-int"]["Aliases"]
    peer = out(service.docker("run", "-d", "--network", "cli-int", "busybox", "sleep", "60")).strip()
    r = service.docker("exec", peer, "nslookup", "cli-second", check=False)
    assert "10.231.8.20" in out(r).split("cli-second")[-1], out(r)
    service.docker("network", "disconnect", "cli-int", cid)
    assert service.docker("exec", cid, "ip", "link", "show", "eth1", check=False).returncode != 0
    r = service.docker("network", "disconnect", "cli-int", cid, check=False)
    assert r.returncode != 0 and b"is not connected" in r.stderr
    assert cid not in json.loads(out(service.docker("network", "inspect", "cli-int")))[0]["Containers"]
    service.docker("rm", "-f", cid, peer)
    service.docker("network", "rm", "cli-net", "cli-int")
    assert "cli-net" not in out(service.docker("network", "ls"))
    service.docker("volume", "create", "--label", "k=v", "cli-vol")
    assert "cli-vol" in out(service.docker("volume", "ls"))
    service.docker("run", "--rm", "-v", "cli-vol:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert out(service.docker("run", "--rm", "-v", "cli-vol:/data", "busybox", "cat", "/data/f")) == "kept\n"
    service.docker("volume", "rm", "cli-vol")
    assert "cli-vol" not in out(service.docker("volume", "ls"))


def test_events_stream_container_lifecycle(service):
    since = str(int(time.time()) - 1)
    events = subprocess.Popen([DOCKER, "events", "--since", since, "--format", "{{json .}}",
                               "--filter", "type=container"], stdout=subprocess.PIPE, env=service.env)
    time.sleep(0.5)
    service.docker("run", "--rm", "--name", "cli-ev", "busybox", "true")
    time.sleep(1.0)
    events.terminate()
    lines = [json.loads(line) for line in events.communicate(timeout=10)[0].decode().splitlines()]
    actions = [e["Action"] for e in lines if e["Actor"]["Attributes"].get("name") == "cli-ev"]
    assert actions[:1] == ["create"] and "start" in actions and "die" in actions and actions[-1] == "destroy"
    assert all(e["status"] == e["Action"] for e in lines)


def test_diff_export_stats_info_df_and_prunes(service, tmp_path):
    cid = out(service.docker("run", "-d", "busybox", "sh", "-c", "echo x > /made; sleep 60")).strip()
    deadline = time.monotonic() + 10
    while "/made" not in out(service.docker("diff", cid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "A /made" in out(service.docker("diff", cid))
    stats = out(service.docker("stats", "--no-stream", "--format", "{{.ID}} {{.MemUsage}}", cid))
    assert stats.startswith(cid[:12])
    service.docker("export", "-o", str(tmp_path / "fs.tar"), cid)
    import tarfile
    with tarfile.open(tmp_path / "fs.tar") as tar:
        assert tar.extractfile("./made" if "./made" in tar.getnames() else "made").read() == b"x\n"
    assert "Server Version" in out(service.docker("info"))
    assert "Images" in out(service.docker("system", "df"))
    service.docker("rm", "-f", cid)
    stopped = out(service.docker("create", "busybox", "true")).strip()
    assert stopped in out(service.docker("container", "prune", "-f"))
    assert service.docker("inspect", stopped, check=False).returncode != 0
    service.docker("volume", "create", "cli-prune-vol")
    service.docker("volume", "prune", "-f")
    assert "cli-prune-vol" not in out(service.docker("volume", "ls", "-q"))
    service.docker("network", "create", "cli-prune-net")
    service.docker("network", "prune", "-f")
    assert "cli-prune-net" not in out(service.docker("network", "ls"))
    service.docker("image", "prune", "-f")


def test_rm_v_removes_anonymous_volumes_and_keeps_named_ones(service):
    service.docker("volume", "create", "cli-named")
    before = set(out(service.docker("volume", "ls", "-q")).split())
    assert out(service.docker("run", "--name", "cli-rmv", "-v", "cli-named:/named", "-v", "/anon", "busybox",
                              "sh", "-c", "echo a > /anon/f; echo n > /named/f; cat /anon/f")) == "a\n"
    anonymous = set(out(service.docker("volume", "ls", "-q")).split()) - before
    assert len(anonymous) == 1 and len(next(iter(anonymous))) == 64     # `-v /anon`: Config.Volumes
    mounts = json.loads(out(service.docker("inspect", "cli-rmv")))[0]["Mounts"]
    assert {m.get("Name") for m in mounts} == {"cli-named", *anonymous} and {m["Type"] for m in mounts} == {"volume"}
    service.docker("rm", "-v", "cli-rmv")
    left = set(out(service.docker("volume", "ls", "-q")).split())
    assert "cli-named" in left and not anonymous & left   # data a name holds stays; the anonymous one goes
    assert sorted(bocker("volume", "ls", "-q").stdout.split()) == sorted(left)  # the engine's own view
    service.docker("volume", "rm", "cli-named")


def test_a_detached_rm_run_is_removed_when_it_exits_die_then_destroy(service):
    since = str(int(time.time()) - 1)
    events = subprocess.Popen([DOCKER, "events", "--since", since, "--format", "{{json .}}",
                               "--filter", "type=container"], stdout=subprocess.PIPE, env=service.env)
    try:
        time.sleep(0.5)
        before = set(out(service.docker("volume", "ls", "-q")).split())
        cid = out(service.docker("run", "-d", "--rm", "--name", "cli-drm", "-v", "/anon", "busybox", "sh", "-c",
                                 "sleep 0.5; exit 3")).strip()
        assert len(cid) == 64
        assert len(set(out(service.docker("volume", "ls", "-q")).split()) - before) == 1
        deadline = time.monotonic() + 20
        while service.docker("inspect", "--type", "container", cid, check=False).returncode == 0:
            assert time.monotonic() < deadline, "a detached --rm container still there"
            time.sleep(0.1)
        assert "No such container" in service.docker("rm", cid, check=False).stderr.decode()
        assert "cli-drm" not in bocker("ps", "--format", "{{.Name}}").stdout.split()
        assert set(out(service.docker("volume", "ls", "-q")).split()) == before  # its anonymous volume went too
        time.sleep(1.0)  # the service's watcher tells destroy once it has seen it gone
    finally:
        events.terminate()
    lines = [json.loads(line) for line in events.communicate(timeout=10)[0].decode().splitlines()]
    mine = [e for e in lines if e["Actor"]["Attributes"].get("name") == "cli-drm"]
    actions = [e["Action"] for e in mine]
    assert actions[:2] == ["create", "start"] and actions[-2:] == ["die", "destroy"], actions
    assert actions.count("die") == 1 and actions.count("destroy") == 1, actions
    assert [e["Actor"]["Attributes"].get("exitCode") for e in mine if e["Action"] == "die"] == ["3"]


def test_attach_to_a_running_container_logs_options_and_history(service):
    cid = out(service.docker("run", "-d", "-i", "busybox", "sh", "-c",
                             "echo first; echo second; read line; echo got $line")).strip()
    deadline = time.monotonic() + 10
    while "second" not in out(service.docker("logs", cid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out(service.docker("attach", cid, input="typed\n")) == "got typed\n"
    assert out(service.docker("logs", "--tail", "1", cid)) == "got typed\n"
    stamped = out(service.docker("logs", "-t", cid)).splitlines()
    assert stamped[0].endswith(" first") and stamped[0][:4].isdigit() and "T" in stamped[0].split()[0]
    assert "busybox" in out(service.docker("history", "busybox")) or out(service.docker("history", "-q", "busybox"))
    service.docker("rm", cid)


def test_the_service_leaves_when_idle(tmp_path):
    import os
    import sys
    sock = tmp_path / "idle.sock"
    p = subprocess.run([sys.executable, "-m", "bocker_magics.cli", "system", "service", "-H", f"unix://{sock}",
                        "--time", "1"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "BOCKER_NO_SERVER": "1"})
    assert p.returncode == 0 and not sock.exists()
