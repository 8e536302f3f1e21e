"""The keys of a compose file, and what each value may be: the Compose Specification's service,
network and volume keys, with the ones bocker does not honour named so that a file using them
gets one line, never a silent difference."""

from __future__ import annotations

# service keys bocker applies (engine/stacks turns them into RunOptions and engine calls)
SERVICE_KEYS = frozenset({
    "build", "cap_add", "cap_drop", "command", "container_name", "cpu_shares", "cpus", "depends_on", "deploy",
    "devices", "dns", "entrypoint", "env_file", "environment", "expose", "extra_hosts", "group_add",
    "healthcheck", "hostname", "image", "init", "ipc", "labels", "logging", "mem_limit", "memswap_limit",
    "network_mode", "networks", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "privileged",
    "profiles", "pull_policy", "read_only", "restart", "scale", "security_opt", "stdin_open", "stop_grace_period",
    "stop_signal", "sysctls", "tmpfs", "tty", "ulimits", "user", "uts", "volumes", "working_dir",
})
# in the specification, not (yet) applied by bocker: refused with one line naming the key
SERVICE_KEYS_REFUSED = frozenset({
    "annotations", "attach", "blkio_config", "cgroup", "cgroup_parent", "configs", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpuset", "credential_spec", "develop",
    "device_cgroup_rules", "dns_opt", "dns_search", "domainname", "extends", "external_links", "isolation",
    "links", "mac_address", "mem_reservation", "mem_swappiness", "oom_kill_disable", "runtime", "secrets",
    "shm_size", "storage_opt", "userns_mode", "volumes_from",
})
TOP_KEYS = frozenset({"version", "name", "services", "networks", "volumes"})
TOP_KEYS_REFUSED = frozenset({"configs", "secrets", "include"})
NETWORK_KEYS = frozenset({"driver", "driver_opts", "ipam", "internal", "external", "name", "labels",
                          "attachable", "enable_ipv6"})
VOLUME_KEYS = frozenset({"driver", "driver_opts", "external", "name", "labels"})
BUILD_KEYS = frozenset({"context", "dockerfile", "args", "target", "labels", "network", "no_cache", "pull",
                        "cache_from", "tags", "dockerfile_inline"})
HEALTHCHECK_KEYS = frozenset({"test", "interval", "timeout", "retries", "start_period", "start_interval",
                              "disable"})
DEPENDS_KEYS = frozenset({"condition", "restart", "required"})
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
DEPLOY_KEYS = frozenset({"replicas", "resources", "restart_policy", "labels", "mode"})
SERVICE_NETWORK_KEYS = frozenset({"aliases", "ipv4_address", "ipv6_address", "priority"})
RESTART = ("no", "always", "on-failure", "unless-stopped")

# value shapes: what a key's value must be (before normalisation)
STR, INT, NUM, BOOL = "a string", "a whole number", "a number", "true or false"
LIST_OR_STR = "a string or a list"
LIST, MAP, MAP_OR_LIST = "a list", "a mapping", "a mapping or a list"
SERVICE_TYPES: dict[str, str] = {
    "image": STR, "container_name": STR, "hostname": STR, "user": STR, "working_dir": STR, "platform": STR,
    "restart": STR, "stop_signal": STR, "stop_grace_period": STR, "network_mode": STR, "ipc": STR, "pid": STR,
    "uts": STR, "pull_policy": STR, "command": LIST_OR_STR, "entrypoint": LIST_OR_STR, "env_file": LIST_OR_STR,
    "dns": LIST_OR_STR, "tmpfs": LIST_OR_STR, "environment": MAP_OR_LIST, "labels": MAP_OR_LIST,
    "sysctls": MAP_OR_LIST, "extra_hosts": MAP_OR_LIST, "networks": MAP_OR_LIST, "depends_on": MAP_OR_LIST,
    "ports": LIST, "expose": LIST, "volumes": LIST, "cap_add": LIST, "cap_drop": LIST, "devices": LIST,
    "group_add": LIST, "security_opt": LIST, "profiles": LIST, "healthcheck": MAP, "deploy": MAP,
    "ulimits": MAP, "logging": MAP, "read_only": BOOL, "init": BOOL, "privileged": BOOL, "tty": BOOL,
    "stdin_open": BOOL, "pids_limit": INT, "scale": INT, "oom_score_adj": INT, "cpu_shares": INT, "cpus": NUM,
    "mem_limit": "a size (512m, 1g or bytes)", "memswap_limit": "a size (512m, 1g or bytes)",
}


def is_type(value, shape: str) -> bool:
    if shape == STR:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if shape == INT:
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, str) and value.lstrip("-").isdigit())
    if shape == NUM:
        if isinstance(value, bool):
            return False
        try:
            float(value)
            return True
        except (TypeError, ValueError):
            return False
    if shape == BOOL:
        return isinstance(value, bool) or value in ("true", "false", "True", "False")
    if shape == LIST_OR_STR:
        return isinstance(value, (str, list))
    if shape == LIST:
        return isinstance(value, list)
    if shape == MAP:
        return isinstance(value, dict)
    if shape == MAP_OR_LIST:
        return isinstance(value, (dict, list))
    if shape.startswith("a size"):
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    return True


def nearest(word: str, choices) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.75)
    return found[0] if found else None
