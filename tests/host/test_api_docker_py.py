"""docker-py (the Python SDK a notebook imports) driving bocker through the API service."""

from __future__ import annotations

import io
import shutil
import tarfile

import pytest

from tests.support.api_helpers import service_fixture
from tests.support.session import SESSION_ROOT

service = service_fixture()

docker = pytest.importorskip("docker")


@pytest.fixture(scope="module")
def client(service):
    c = service.client()
    yield c
    c.close()


def test_ping_version_and_negotiation(client):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.41"
    assert client.api.api_version == "1.41"


def test_containers_run_in_the_foreground_detached_and_removed(client):
    assert client.containers.run("busybox", "echo hello-py", remove=True) == b"hello-py\n"
    with pytest.raises(docker.errors.ContainerError) as err:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 5"], remove=True, stderr=True)
    assert err.value.exit_status == 5
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; sleep 60"], detach=True,
                              labels={"suite": "api", "part": "py"}, name="py-det")
    try:
        assert c.status in ("created", "running")
        c.reload()
        assert c.status == "running" and c.name == "py-det" and c.labels["suite"] == "api"
        assert [x.id for x in client.containers.list(filters={"label": "suite=api"})] == [c.id]
        assert [x.id for x in client.containers.list(filters={"label": ["suite", "part=py"]})] == [c.id]
        assert client.containers.list(filters={"label": "suite=other"}) == []
        assert client.containers.get("py-det").id == c.id and client.containers.get(c.id[:12]).id == c.id
        import time
        deadline = time.monotonic() + 10
        while b"two" not in c.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.logs(stdout=True, stderr=False) == b"one\n"
        assert c.logs(stdout=False, stderr=True) == b"two\n"
        code, (out, err) = c.exec_run(["sh", "-c", "echo o; echo e >&2; exit 2"], demux=True)
        assert (code, out, err) == (2, b"o\n", b"e\n")
        code, out = c.exec_run("echo together")
        assert (code, out) == (0, b"together\n")
        assert not c.exec_run(["sh", "-c", "echo detached > /tmp/d"], detach=True).output  # dockerd: an empty body
        deadline = time.monotonic() + 10
        while c.exec_run("cat /tmp/d").output != b"detached\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.exec_run("cat /tmp/d").output == b"detached\n"
        result = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; done"], stream=True)
        assert b"".join(result.output) == b"1\n2\n3\n"
        stats = c.stats(stream=False)
        assert stats["id"] == c.id and "memory_stats" in stats
        # the engine's accounting, by its field names: pid 1 (sh, its sleep), memory charged
        assert stats["pids_stats"]["current"] >= 1 and stats["memory_stats"]["usage"] > 0
        streamed = c.stats(stream=True, decode=True)
        assert next(streamed)["id"] == c.id and next(streamed)["id"] == c.id
        streamed.close()
        c.stop(timeout=1)
        assert c.wait()["StatusCode"] == 137
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("py-det")


def test_logs_stream_follows_until_the_container_ends(client):
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"],
                              detach=True)
    try:
        assert b"".join(c.logs(stream=True, follow=True)) == b"line1\nline2\nline3\n"
    finally:
        c.remove(force=True)


def test_put_and_get_archive(client):
    c = client.containers.run("busybox", "sleep 60", detach=True)
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            payload = b"through put_archive\n"
            info = tarfile.TarInfo("dir/file.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        assert c.put_archive("/tmp", data.getvalue()) is True
        assert c.exec_run("cat /tmp/dir/file.txt").output == b"through put_archive\n"
        stream, stat = c.get_archive("/tmp/dir")
        assert stat["name"] == "dir"
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("dir/file.txt").read() == b"through put_archive\n"
        with pytest.raises(docker.errors.NotFound):
            c.get_archive("/no/such/path")
    finally:
        c.remove(force=True)


def test_images_build_load_and_errors(client, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo from-build > /f\nCMD [\"cat\", \"/f\"]\n")
    img, logs = client.images.build(path=str(tmp_path), tag="py-built:1")
    assert "py-built:1" in img.tags
    assert any("Successfully built" in x.get("stream", "") for x in logs)
    assert client.containers.run(img.id, remove=True) == b"from-build\n"
    data = b"".join(img.save())
    img.tag("py-built", "2")
    client.images.remove("py-built:1")
    client.images.remove("py-built:2")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("py-built:1")
    loaded = client.images.load(data)
    assert any("py-built:1" in i.tags for i in loaded)
    with pytest.raises(docker.errors.BuildError):
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 9\n"), tag="py-bad")
    assert any("busybox:latest" in i.tags for i in client.images.list())


def test_networks_and_volumes(client):
    net = client.networks.create("py-net", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet="10.231.9.0/24")]))
    try:
        assert client.networks.get("py-net").id == net.id
        assert "py-net" in [n.name for n in client.networks.list(filters={"type": "custom"})]
        c = client.containers.run("busybox", "sleep 60", detach=True, network="py-net")
        c.reload()
        assert c.attrs["NetworkSettings"]["Networks"]["py-net"]["IPAddress"].startswith("10.231.9.")
        # a second network, connected live with an alias and an address; then taken away
        other = client.networks.create("py-other", internal=True, labels={"k": "v"}, ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet="10.231.10.0/24")]))
        try:
            assert other.attrs["Internal"] is True and other.attrs["Labels"] == {"k": "v"}
            other.connect(c, aliases=["py-alias"], ipv4_address="10.231.10.7")
            c.reload()
            assert c.attrs["NetworkSettings"]["Networks"]["py-other"]["IPAddress"] == "10.231.10.7"
            other.reload()
            assert [x.id for x in other.containers] == [c.id]
            assert c.exec_run("ip -o -4 addr show eth1").output.decode().count("10.231.10.7/24") == 1
            other.disconnect(c)
            c.reload()
            assert set(c.attrs["NetworkSettings"]["Networks"]) == {"py-net"}
            with pytest.raises(docker.errors.NotFound):
                other.disconnect(c)
            # created on both at once (several EndpointsConfig, as API 1.44 takes them): eth0 and eth1
            api = client.api
            made = api.create_container("busybox", "sleep 60", host_config=api.create_host_config(
                network_mode="py-net"), networking_config=api.create_networking_config({
                    "py-net": api.create_endpoint_config(aliases=["first"]),
                    "py-other": api.create_endpoint_config(aliases=["second"], ipv4_address="10.231.10.9")}))
            try:
                api.start(made["Id"])
                settings = api.inspect_container(made["Id"])["NetworkSettings"]["Networks"]
                assert settings["py-other"]["IPAddress"] == "10.231.10.9" and "second" in settings["py-other"]["Aliases"]
                assert settings["py-net"]["IPAddress"].startswith("10.231.9.")
                run = api.exec_create(made["Id"], "ip -o -4 addr show eth1")
                assert "10.231.10.9/24" in api.exec_start(run["Id"]).decode()
            finally:
                api.remove_container(made["Id"], force=True)
        finally:
            c.remove(force=True)
            other.remove()
    finally:
        net.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("py-net")
    vol = client.volumes.create("py-vol", labels={"a": "b"})
    assert client.volumes.get("py-vol").attrs["Labels"] == {"a": "b"}
    out = client.containers.run("busybox", "sh -c 'echo in-vol > /v/f; cat /v/f'", volumes={"py-vol": {
        "bind": "/v", "mode": "rw"}}, remove=True)
    assert out == b"in-vol\n"
    vol.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("py-vol")


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="needs docker-registry (quickstart.sh test)")
def test_images_push_and_pull_through_a_loopback_registry(client):
    from tests.support.registry_fixtures import Registry
    work = SESSION_ROOT / "api-registry"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    reg = Registry(work / "registry")
    try:
        name = f"{reg.host}/api/busybox"
        client.images.get("busybox").tag(name, "v1")
        lines = list(client.api.push(name, tag="v1", stream=True, decode=True))
        assert not any("error" in x for x in lines), lines
        assert any("digest: sha256:" in x.get("status", "") for x in lines)
        client.images.remove(f"{name}:v1")
        pulled = client.images.pull(name, tag="v1")
        assert f"{name}:v1" in pulled.tags
        assert client.containers.run(f"{name}:v1", "echo pulled", remove=True) == b"pulled\n"
        with pytest.raises(docker.errors.NotFound):
            client.images.pull(f"{reg.host}/api/nothing", tag="v1")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_removing_one_name_of_an_image_a_container_uses(client):
    # Docker untags one of several names whatever uses the image; only its last name is refused
    c = client.containers.create("busybox", "true")
    try:
        client.images.get("busybox").tag("second/name", "v1")
        client.images.remove("second/name:v1")
        assert "second/name:v1" not in client.images.get("busybox").tags
        with pytest.raises(docker.errors.APIError, match="must force"):
            client.images.remove(client.images.get("busybox").id)
    finally:
        c.remove()


def test_create_options_become_the_engines_run_options(client, tmp_path):
    (tmp_path / "bound.txt").write_text("bound in\n")
    tmp_path.chmod(0o755)   # user 1000 in the container reads it
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
              "cat /b/bound.txt; touch /b/x 2>/dev/null && echo bind-rw || echo bind-ro; "
              "mount | grep -q ' /scratch type tmpfs' && echo tmpfs; "
              "touch /root-file 2>/dev/null && echo root-rw || echo root-ro; "
              "echo $GREETING; pwd; id -u")
    out = client.containers.run(
        "busybox", ["sh", "-c", script], remove=True, mem_limit="64m", pids_limit=50, read_only=True,
        tmpfs={"/scratch": "size=1m"}, environment={"GREETING": "hi-env"}, working_dir="/tmp", user="1000",
        mounts=[docker.types.Mount("/b", str(tmp_path), type="bind", read_only=True)])
    lines = out.decode().splitlines()
    assert lines[0] == str(64 * 1024 * 1024)
    assert lines[1:] == ["bound in", "bind-ro", "tmpfs", "root-ro", "hi-env", "/tmp", "1000"]
    c = client.containers.run("busybox", ["exec sleep 61"], detach=True, restart_policy={"Name": "on-failure",
                                                                                  "MaximumRetryCount": 2},
                              cap_add=["NET_ADMIN"], entrypoint=["sh", "-c"])
    try:
        c.reload()
        assert c.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        assert c.attrs["Path"] == "sh" and c.attrs["Args"] == ["-c", "exec sleep 61"]
        assert c.attrs["HostConfig"]["LogConfig"]["Type"] == "json-file"
    finally:
        c.remove(force=True)


def test_a_detached_auto_remove_container_goes_when_it_exits(client):
    c = client.containers.run("busybox", ["sh", "-c", "sleep 0.5; exit 4"], detach=True, auto_remove=True)
    assert c.wait(condition="removed")["StatusCode"] == 4
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_run_detached_with_remove_goes_when_it_exits_with_its_anonymous_volume(client):
    """containers.run(detach=True, remove=True) is HostConfig.AutoRemove: the engine's --rm,
    which removes the container with its anonymous volumes once it has exited."""
    before = {v.name for v in client.volumes.list()}
    c = client.containers.run("busybox", ["sh", "-c", "sleep 0.5"], detach=True, remove=True,
                              mounts=[docker.types.Mount("/anon", None, type="volume")])
    assert c.attrs["HostConfig"]["AutoRemove"] is True
    assert len({v.name for v in client.volumes.list()} - before) == 1
    assert c.wait(condition="removed")["StatusCode"] == 0
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)
    assert {v.name for v in client.volumes.list()} == before


def test_remove_v_removes_the_anonymous_volume_and_keeps_a_named_one(client):
    named = client.volumes.create("py-named")
    before = {v.name for v in client.volumes.list()}
    c = client.containers.create("busybox", "true", volumes={"py-named": {"bind": "/named", "mode": "rw"}},
                                 mounts=[docker.types.Mount("/anon", None, type="volume")])
    (anonymous,) = {v.name for v in client.volumes.list()} - before
    assert {m.get("Name") for m in client.containers.get(c.id).attrs["Mounts"]} == {"py-named", anonymous}
    c.remove(v=True)
    names = {v.name for v in client.volumes.list()}
    assert "py-named" in names and anonymous not in names
    named.remove()
