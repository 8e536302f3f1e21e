"""The Docker Engine API service (`bocker system service`): a face like the CLI and the
magics, serving Docker's HTTP API (version 1.41) on a unix socket so that the docker CLI,
docker-py, docker-compose and testcontainers drive the same engine `bocker` does.

    server.py   the HTTP/1.1 service (the socket, a thread per connection, the service's life)
    request.py  a request as the endpoints see it (query, body; reply, chunked stream, hijack)
    routing.py  paths, API versions, errors as Docker's
    ids.py      Docker's 64-hex ids over bocker's ps_/img_ ids
    app.py      the Api: the endpoints of containers.py, exec.py, images.py, build.py,
                networks.py, volumes.py, system.py, events.py
    containers.py's parts: runconfig.py (a create body -> RunOptions), container_json.py
                (inspect and list shapes), attach.py (attach, wait), archive.py (archive, export)
"""

from .server import DEFAULT_HOST, DEFAULT_IDLE, make_service, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_IDLE", "make_service", "serve"]
