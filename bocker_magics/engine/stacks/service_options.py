"""A service as `docker run` options (compose's create.go): the one place a compose key
becomes an engine option: its labels, mounts, network and aliases (eth1... for the others),
limits, healthcheck, and the command its entrypoint leaves."""

from __future__ import annotations

from ...errors import InvalidArgument
from .labels import (
    LABEL_DEPENDS,
    LABEL_FILES,
    LABEL_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_WORKDIR,
)
from .model import Project, Service


class ServiceOptions:
    """Mixed into Stack: it needs the project."""

    project: Project

    def run_options(self, service: Service, number: int, digest: str, oneoff: bool = False):
        """The service as `docker run` options (the one place a compose key becomes an engine
        option)."""
        from ..options import RunOptions

        labels = {**service.labels, LABEL_PROJECT: self.project.name, LABEL_SERVICE: service.name,
                  LABEL_NUMBER: str(number), LABEL_ONEOFF: str(oneoff), LABEL_HASH: digest,
                  LABEL_WORKDIR: self.project.working_dir, LABEL_FILES: ",".join(self.project.files),
                  LABEL_DEPENDS: ",".join(f"{d}:{c.condition}:{str(c.restart).lower()}"
                                          for d, c in service.depends_on.items())}
        volumes, tmpfs, mounts = [], [], []
        for m in service.mounts:
            if m.type == "tmpfs":
                tmpfs.append(m.target + (f":size={m.tmpfs_size}" if m.tmpfs_size else ""))
            elif m.type == "volume" and not m.source:
                volumes.append(m.target)
            else:
                source = self.project.volumes[m.source].name if m.type == "volume" else m.source
                volumes.append(f"{source}:{m.target}" + (":ro" if m.read_only else ""))
        network = service.network_mode or None
        if network is None and service.networks:
            network = self.project.networks[next(iter(service.networks))].name
        entrypoint = None if service.entrypoint is None else (service.entrypoint[0] if service.entrypoint else "")
        options = RunOptions(
            name=self.project.container_name(service, number) if not oneoff else None,
            hostname=service.hostname or None, env=[f"{k}={v}" for k, v in service.environment.items()],
            workdir=service.working_dir or None, volumes=volumes, limits=self._limits(service), detach=True,
            cap_add=list(service.cap_add), cap_drop=list(service.cap_drop), privileged=service.privileged,
            network=network, publish=[p.docker_spelling() for p in service.ports], dns=list(service.dns),
            user=service.user or None, group_add=list(service.group_add), read_only=service.read_only,
            tmpfs=tmpfs, mounts=mounts, ulimits=[f"{k}={s}:{h}" for k, (s, h) in service.ulimits.items()],
            oom_score_adj=service.oom_score_adj, sysctls=[f"{k}={v}" for k, v in service.sysctls.items()],
            devices=list(service.devices), security_opt=list(service.security_opt),
            interactive=service.stdin_open, tty=service.tty, entrypoint=entrypoint,
            labels=[f"{k}={v}" for k, v in labels.items()], pid=service.pid or None, ipc=service.ipc or None,
            uts=service.uts or None, stop_signal=service.stop_signal or None,
            stop_timeout=int(service.stop_grace_period) if service.stop_grace_period is not None else None,
            init=service.init, restart=service.restart if service.restart != "no" else None)
        self._extend_options(options, service)
        return options

    def _extend_options(self, options, service: Service) -> None:
        """The service's networks (the first at create, the others attached as eth1...), its
        name and aliases on each (and a static address where ipv4_address gives one), its
        healthcheck."""
        attach = [(self.project.networks[key].name, net) for key, net in service.networks.items()]
        if not service.network_mode and attach:
            first, *more = attach
            options.network_aliases = list(dict.fromkeys([service.name, *first[1].aliases]))
            options.ip = first[1].ipv4_address or None
            options.more_networks = [{"name": name, "aliases": list(dict.fromkeys([service.name, *net.aliases])),
                                      "ip": net.ipv4_address} for name, net in more]
        else:
            options.network_aliases = [service.name]
        check = service.healthcheck
        if check is not None:
            options.health = {k: v for k, v in (("test", check.test or None), ("interval", check.interval),
                                                ("timeout", check.timeout), ("retries", check.retries),
                                                ("start_period", check.start_period)) if v is not None}
        options.no_healthcheck = service.healthcheck_disabled

    @staticmethod
    def command_of(service: Service) -> list[str] | None:
        """The command to run: an entrypoint of several words puts the rest before the command
        (Docker's --entrypoint takes the program only), and resets the image's CMD as Docker does."""
        if service.entrypoint is None:
            return service.command
        return [*service.entrypoint[1:], *(service.command or [])]

    def _limits(self, service: Service):
        if not (service.mem_limit or service.cpus or service.cpu_shares or service.pids_limit):
            return None
        from ..limits import Limits
        from .sizes import parse_size

        limits = Limits(memory=parse_size(service.mem_limit) if service.mem_limit else None,
                        cpu_shares=service.cpu_shares, cpus=service.cpus, pids=service.pids_limit)
        try:
            limits.validate()
        except InvalidArgument as e:
            raise InvalidArgument(f"service {service.name}: {e}") from None
        return limits
