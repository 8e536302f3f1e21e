"""How a stack's containers are known, as Compose knows them: by their labels (project,
service, number, one-off, config hash, ...), the config hash that decides whether `up`
recreates a service's containers, and a container of a service (ServiceContainer)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .model import Service

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_DEPENDS = "com.docker.compose.depends_on"


@dataclass
class ServiceContainer:
    service: str
    number: int
    container: object  # engine Container


def config_hash(service: Service) -> str:
    """What decides whether `up` recreates a service's containers: its whole normal form."""
    text = json.dumps(service.to_config(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
