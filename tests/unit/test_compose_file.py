"""Compose files read as Docker Compose reads them: found, named, interpolated, checked, merged
and normalised (engine/stacks). No root: nothing starts here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bocker_magics.engine.stacks.compose_file import FILE_NAMES, ComposeFileError, load_project
from bocker_magics.engine.stacks.interpolate import InterpolationError, interpolate, parse_env_file


def project(tmp_path: Path, text: str, name: str = "compose.yaml", **kw):
    (tmp_path / name).write_text(text)
    kw.setdefault("environ", {})
    return load_project(cwd=tmp_path, **kw)


def error(tmp_path: Path, text: str, **kw) -> str:
    with pytest.raises(ComposeFileError) as e:
        project(tmp_path, text, **kw)
    message = str(e.value)
    assert "\n" not in message
    return message


# -- interpolation ----------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("${A}", "a"), ("$A", "a"), ("x${A}y", "xay"), ("$$A", "$A"), ("$$", "$"), ("cost $5", "cost $5"),
    ("${UNSET}", ""), ("${UNSET:-dflt}", "dflt"), ("${EMPTY:-dflt}", "dflt"), ("${EMPTY-dflt}", ""),
    ("${UNSET-dflt}", "dflt"), ("${A:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"),
    ("${UNSET:-${A}-nested}", "a-nested"), ("${A:?must}", "a"),
])
def test_interpolation(text, expected):
    assert interpolate(text, {"A": "a", "EMPTY": ""}) == expected


@pytest.mark.parametrize("text, words", [
    ("${UNSET:?set UNSET first}", "required variable UNSET is missing a value: set UNSET first"),
    ("${EMPTY:?}", "required variable EMPTY is missing a value"),
    ("${A", "a '${' with no '}'"), ("${1A}", "does not start with a variable name"), ("${A/x}", "unknown operator"),
])
def test_interpolation_errors(text, words):
    with pytest.raises(InterpolationError) as e:
        interpolate(text, {"A": "a", "EMPTY": ""})
    assert words in str(e.value)


def test_env_file_forms():
    assert parse_env_file("# c\n\nA=1\nexport B=two words\nC='$x'\nD=\"l1\\nl2\"\nE=v # note\nF\n", ".env") == {
        "A": "1", "B": "two words", "C": "$x", "D": "l1\nl2", "E": "v"}
    with pytest.raises(Exception, match=r"\.env:2: '1BAD=x' is not KEY=VALUE"):
        parse_env_file("A=1\n1BAD=x\n", ".env")


def test_dotenv_and_the_shell_and_a_missing_variable(tmp_path):
    (tmp_path / ".env").write_text("TAG=1.0\nPORT=8080\n")
    p = project(tmp_path, "services:\n  web:\n    image: busybox:${TAG}\n    ports: ['${PORT}:80']\n",
                environ={"PORT": "9090"})
    assert p.services["web"].image == "busybox:1.0"
    assert p.services["web"].ports[0].published == "9090"  # the shell's value wins over .env
    message = error(tmp_path, "services:\n  web:\n    image: busybox\n    user: ${WHO:?say who runs it}\n")
    assert message == ("compose.yaml:4: services.web.user: required variable WHO is missing a value: "
                       "say who runs it")


# -- finding files and naming the project -------------------------------------------------
def test_files_are_found_as_compose_finds_them(tmp_path):
    for name in reversed(FILE_NAMES):
        (tmp_path / name).write_text(f"services:\n  s:\n    image: {name.split('.')[0]}\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    p = load_project(cwd=sub, environ={})
    assert p.files == [str(tmp_path / "compose.yaml")] and p.services["s"].image == "compose"
    empty = tmp_path.parent / f"{tmp_path.name}-empty"
    empty.mkdir()
    with pytest.raises(ComposeFileError, match="no compose file .* give one with -f FILE"):
        load_project(cwd=empty, environ={})


def test_project_name(tmp_path):
    d = tmp_path / "My.App"
    d.mkdir()
    text = "services:\n  s:\n    image: busybox\n"
    assert project(d, text).name == "myapp"
    assert project(d, "name: fromfile\n" + text).name == "fromfile"
    assert project(d, "name: fromfile\n" + text, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert project(d, text, project="Given", environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "given"
    assert "project name '-x' is not valid" in error(d, text, project="-x")


# -- mistakes: one line naming the file, the line and the key -------------------------------
@pytest.mark.parametrize("text, expected", [
    ("services:\n  web:\n    imagee: busybox\n",
     "compose.yaml:3: services.web.imagee: unknown key 'imagee' (did you mean 'image'?)"),
    ("services:\n  web:\n    image: busybox\n    secrets: [a]\n",
     "compose.yaml:4: services.web.secrets: 'secrets' is not supported by bocker compose"),
    ("services:\n  web:\n    image: busybox\n    ports: 80\n",
     "compose.yaml:4: services.web.ports: must be a list, not int 80"),
    ("services:\n  web:\n    image: busybox\n    read_only: maybe\n",
     "compose.yaml:4: services.web.read_only: must be true or false"),
    ("services:\n  web:\n    image: [busybox\n", "compose.yaml:4: not valid YAML"),
    ("servics:\n  web: {}\n", "compose.yaml:1: servics: unknown top-level key 'servics' (did you mean 'services'?)"),
    ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
     "a cycle in depends_on: a -> b -> a"),
    ("services:\n  a:\n    image: x\n    depends_on: [nosuch]\n",
     "compose.yaml:4: services.a.depends_on: depends on undefined service 'nosuch'"),
    ("services:\n  a:\n    image: x\n    networks: [back]\n",
     "compose.yaml:4: services.a.networks: network 'back' is not declared"),
    ("services:\n  a:\n    image: x\n    volumes: ['data:/data']\n",
     "compose.yaml:4: services.a.volumes: named volume 'data' is not declared"),
    ("services:\n  a:\n    image: x\n    ports: ['80:80:80:80']\n",
     "compose.yaml:4: services.a.ports[0]: '80:80:80:80' is not a port"),
    ("services:\n  a:\n    image: x\n    restart: sometimes\n",
     "compose.yaml:4: services.a.restart: 'sometimes' is not a restart policy"),
    ("services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_ready}\n  b:\n    image: x\n",
     "compose.yaml:5: services.a.depends_on.b.condition: condition 'service_ready' is not one of"),
    ("services:\n  a:\n    image: x\n    healthcheck: {test: [RUN, x]}\n",
     "compose.yaml:4: services.a.healthcheck.test: a test list starts with CMD, CMD-SHELL or NONE"),
    ("services:\n  a:\n    image: x\n    stop_grace_period: soon\n",
     "compose.yaml:4: services.a.stop_grace_period: 'soon' is not a duration"),
    ("services:\n  a:\n    image: x\n    logging: {driver: syslog}\n",
     "compose.yaml:4: services.a.logging.driver: log driver 'syslog' is not supported"),
])
def test_mistakes_are_one_line_with_file_line_and_key(tmp_path, text, expected):
    assert expected in error(tmp_path, text)


# -- the normal form ------------------------------------------------------------------------
def test_normal_forms(tmp_path):
    (tmp_path / "web.env").write_text("FROM_FILE=1\nB=file\n")
    p = project(tmp_path, """
x-defaults: &defaults
  restart: unless-stopped
services:
  db:
    <<: *defaults
    image: busybox
    command: sh -c 'httpd -f -p 80'
    healthcheck:
      test: wget -q -O- http://localhost/ || exit 1
      interval: 1m30s
      timeout: 500ms
      retries: 3
    volumes:
      - data:/data
      - ./site:/www:ro
      - /srv
      - {type: tmpfs, target: /run/x, tmpfs: {size: 1000}}
    tmpfs: [/tmp]
    deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 64m, pids: 20}}}
  web:
    build: {context: ./app, args: [V=1], target: final}
    entrypoint: [/bin/app]
    environment: [A=1, B, C]
    env_file: web.env
    ports: ["8080:80", "127.0.0.1::81", "[::1]:6000:6000/udp", {target: 443, published: 8443}]
    depends_on:
      db: {condition: service_healthy}
    networks:
      front: {aliases: [www], ipv4_address: 10.5.0.9}
      default:
    extra_hosts: ["host.local:10.0.0.1"]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535}
    stop_grace_period: 5s
    healthcheck: {disable: true}
  off:
    image: busybox
    profiles: [debug]
volumes: {data: {}, ext: {external: true}}
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24, gateway: 10.5.0.1}]}, internal: true}
  outside: {external: true, name: real-net}
""", environ={"B": "shell"})
    db, web = p.services["db"], p.services["web"]
    assert db.command == ["sh", "-c", "httpd -f -p 80"] and db.restart == "unless-stopped"
    assert db.healthcheck.test == ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"]
    assert (db.healthcheck.interval, db.healthcheck.timeout, db.healthcheck.retries) == (90.0, 0.5, 3)
    assert [(m.type, m.source, m.target, m.read_only) for m in db.mounts] == [
        ("volume", "data", "/data", False), ("bind", str(tmp_path / "site"), "/www", True),
        ("volume", "", "/srv", False), ("tmpfs", "", "/run/x", False), ("tmpfs", "", "/tmp", False)]
    assert (db.replicas, db.cpus, db.mem_limit, db.pids_limit) == (2, 0.5, "64m", 20)
    assert db.networks == {"default": db.networks["default"]}
    assert web.build.context == str(tmp_path / "app") and web.build.args == {"V": "1"} and web.build.target == "final"
    assert web.environment == {"FROM_FILE": "1", "B": "shell", "A": "1"}  # C: unset in the shell, left out
    assert [b.docker_spelling() for b in web.ports] == ["8080:80", "127.0.0.1::81", "[::1]:6000:6000/udp",
                                                        "8443:443"]
    assert web.depends_on["db"].condition == "service_healthy"
    assert web.networks["front"].aliases == ["www"] and web.networks["front"].ipv4_address == "10.5.0.9"
    assert web.extra_hosts == {"host.local": "10.0.0.1"}
    assert web.ulimits == {"nofile": (1024, 2048), "nproc": (65535, 65535)}
    assert web.stop_grace_period == 5.0 and web.healthcheck is None and web.healthcheck_disabled
    assert "off" not in p.services and "off" in p.disabled
    assert p.networks["front"].name == f"{p.name}_front" and p.networks["front"].subnets == ["10.5.0.0/24"]
    assert p.networks["front"].internal and p.networks["outside"].name == "real-net"
    assert p.networks["default"].name == f"{p.name}_default"
    assert p.volumes["data"].name == f"{p.name}_data" and p.volumes["ext"].name == "ext"
    assert p.container_name(web, 1) == f"{p.name}-web-1"
    assert p.order() == ["db", "off", "web"] or p.order() == ["db", "web"]
    config = p.to_config()
    assert config["services"]["web"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "x-defaults" not in config


def test_profiles(tmp_path):
    text = "services:\n  a:\n    image: x\n  dbg:\n    image: x\n    profiles: [debug]\n"
    assert set(project(tmp_path, text).services) == {"a"}
    assert set(project(tmp_path, text, profiles=["debug"]).services) == {"a", "dbg"}
    assert set(project(tmp_path, text, environ={"COMPOSE_PROFILES": "debug"}).services) == {"a", "dbg"}
    text += "    depends_on: [a]\n  b:\n    image: x\n    depends_on: [dbg]\n"
    assert "which is in a profile that is not enabled" in error(tmp_path, text)


def test_several_files_merge_as_compose_merges(tmp_path):
    (tmp_path / "compose.yaml").write_text("""
services:
  web:
    image: busybox
    command: [echo, base]
    environment: {A: "1", B: "1"}
    ports: ["80:80"]
    volumes: ["/host/a:/a", "/host/b:/b"]
    labels: [x=1]
""")
    (tmp_path / "override.yaml").write_text("""
services:
  web:
    command: echo override
    environment: [B=2, C=3]
    ports: ["443:443", "80:80"]
    volumes: ["/host/other:/b"]
    labels: {y: "2"}
  extra:
    image: busybox
""")
    p = load_project(["compose.yaml", "override.yaml"], cwd=tmp_path, environ={})
    web = p.services["web"]
    assert web.command == ["echo", "override"]
    assert web.environment == {"A": "1", "B": "2", "C": "3"}
    assert [b.docker_spelling() for b in web.ports] == ["80:80", "443:443"]
    assert {m.target: m.source for m in web.mounts} == {"/a": "/host/a", "/b": "/host/other"}
    assert web.labels == {"x": "1", "y": "2"} and set(p.services) == {"web", "extra"}
    # a mistake names the file it is in
    (tmp_path / "bad.yaml").write_text("services:\n  web:\n    comand: x\n")
    with pytest.raises(ComposeFileError, match=r"^.*bad\.yaml:3: services\.web\.comand: unknown key"):
        load_project(["compose.yaml", "bad.yaml"], cwd=tmp_path, environ={})


def test_a_cell_as_the_file(tmp_path):
    p = load_project(text="services:\n  s:\n    image: busybox\n", cwd=tmp_path, project="cell", environ={})
    assert p.name == "cell" and list(p.services) == ["s"]


def test_order_puts_dependencies_first(tmp_path):
    p = project(tmp_path, "services:\n  web:\n    image: x\n    depends_on: [api]\n  api:\n    image: x\n"
                          "    depends_on: [db]\n  db:\n    image: x\n")
    assert p.order() == ["db", "api", "web"]
    assert p.order(["api"]) == ["db", "api"]


def test_yaml_1_2_booleans_only(tmp_path):
    p = project(tmp_path, "services:\n  off:\n    image: busybox\n    environment: {DEBUG: yes, ON: on}\n"
                          "    read_only: true\n")
    assert list(p.services) == ["off"] and p.services["off"].environment == {"DEBUG": "yes", "ON": "on"}
    assert p.services["off"].read_only is True
