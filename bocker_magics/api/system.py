"""`/_ping`, `/version`, `/info`, `/system/df`, `/auth`: what a client asks first."""

from __future__ import annotations

import hashlib
import platform
import socket

from .routing import API_VERSION, MIN_API_VERSION, route

PING_HEADERS = {"Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


class SystemApi:
    @route("GET", "/_ping")
    def ping(self, r) -> None:
        r.reply(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)

    @route("HEAD", "/_ping")
    def ping_head(self, r) -> None:
        r.reply(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)

    @route("GET", "/version")
    def version(self, r) -> None:
        v = self.engine.version()
        r.reply(200, {
            "Platform": {"Name": "bocker"},
            "Components": [{"Name": "Engine", "Version": v.version,
                            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                        "Os": "linux", "Arch": v.arch, "KernelVersion": v.kernel}}],
            "Version": v.version, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "bocker", "GoVersion": f"python{v.python}", "Os": "linux", "Arch": v.arch,
            "KernelVersion": v.kernel, "BuildTime": "", "Experimental": False})

    @route("GET", "/info")
    def info(self, r) -> None:
        i = self.engine.info()
        host = socket.gethostname()
        r.reply(200, {
            "ID": hashlib.sha256(i.root_dir.encode()).hexdigest()[:36].upper(), "Name": host,
            "Containers": i.containers, "ContainersRunning": i.running, "ContainersPaused": i.paused,
            "ContainersStopped": i.stopped, "Images": i.images, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", i.backing_filesystem]], "DockerRootDir": i.root_dir,
            "MemoryLimit": True, "SwapLimit": False, "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True,
            "PidsLimit": True, "IPv4Forwarding": True, "Debug": False, "NFd": 0, "NGoroutines": 0,
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": i.cgroup_version,
            "KernelVersion": i.kernel, "OperatingSystem": i.operating_system, "OSVersion": "", "OSType": "linux",
            "Architecture": i.architecture, "NCPU": i.cpus, "MemTotal": i.memory,
            "IndexServerAddress": "https://index.docker.io/v1/", "RegistryConfig": {
                "IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
            "ServerVersion": i.server_version, "ExperimentalBuild": False, "Labels": [], "Runtimes": {
                "bocker": {"path": "bocker-runc"}}, "DefaultRuntime": "bocker",
            "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "docker-init", "SecurityOptions": [
                f"name={o.split()[0]}" for o in i.security_options], "Warnings": i.warnings,
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "KernelMemory": False, "OomKillDisable": False,
            "ProductLicense": "MIT (bocker)", "SystemTime": "", "Name_": platform.node()})

    @route("POST", "/auth")
    def auth(self, r) -> None:
        body = r.json_body({}) or {}
        self.engine.login(body.get("serveraddress") or "", body.get("username") or "", body.get("password") or "")
        r.reply(200, {"Status": "Login Succeeded", "IdentityToken": ""})

    @route("GET", "/system/df")
    def system_df(self, r) -> None:
        images = [self.image_summary(i) for i in self.engine.images()]
        containers = [self.container_summary(c) for c in self.engine.ps()]
        volumes = [self.volume_json(v) for v in self.engine.volume_ls()]
        r.reply(200, {"LayersSize": sum(i["Size"] for i in images), "Images": images,
                      "Containers": containers, "Volumes": volumes, "BuildCache": []})
