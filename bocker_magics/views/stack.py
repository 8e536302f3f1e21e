"""StackView: what `%%bocker compose` shows after `up`: a row per container of the stack
(service, container, state and health, ports, networks, image; `.to_frame()`) and a picture
of it drawn as SVG, so it reads offline and in an exported report: each network a box with its
services inside, published ports on the services, depends_on as arrows.

    view = StackView.of(stack)      # engine/stacks/stack.Stack, after up
    view.to_frame()
    view.svg()
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ._render import Table, html_table


@dataclass
class StackRow:
    service: str
    container: str
    state: str
    ports: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    image: str = ""


class StackView(Table):
    caption = "stack"
    headers = ("service", "container", "state", "ports", "networks", "image")

    def __init__(self, project_name: str, rows: list[StackRow], depends: dict[str, list[str]],
                 network_of: dict[str, list[str]]) -> None:
        self.project = project_name
        self._rows = rows
        self.depends = depends          # service -> the services it depends on
        self.network_of = network_of    # service -> the networks (keys of the file) it is on

    @classmethod
    def of(cls, stack) -> StackView:
        project = stack.project
        rows = []
        for sc in stack.containers():
            c = sc.container
            service = project.services.get(sc.service)
            ports = [p.docker_spelling() for p in service.ports] if service else []
            health = stack.health_of(c)
            state = c.status_text + (f" ({health})" if health and "(" not in c.status_text else "")
            networks = [project.networks[n].name for n in service.networks] if service else []
            rows.append(StackRow(sc.service, c.name or c.id, state, ports, networks,
                                 stack.image_of(service) if service else ""))
        depends = {n: sorted(s.depends_on) for n, s in project.services.items()}
        network_of = {n: list(s.networks) or [s.network_mode or "default"] for n, s in project.services.items()}
        return cls(project.name, rows, depends, network_of)

    def rows(self) -> list[list[Any]]:
        return [[r.service, r.container, r.state, ", ".join(r.ports), ", ".join(r.networks), r.image]
                for r in self._rows]

    def frame_rows(self) -> list[list[Any]]:
        return [[r.service, r.container, r.state, list(r.ports), list(r.networks), r.image] for r in self._rows]

    def _html(self) -> str:
        table = html_table(self.headers, self.rows(), caption=f"stack {self.project}") if self._rows else \
            f"<p>stack {html.escape(self.project)}: no containers</p>"
        # tex2jax_ignore / mathjax_ignore: a `$` in a command is not typeset as math by JupyterLab
        return f'<div class="tex2jax_ignore mathjax_ignore">{table}{self.svg()}</div>'

    # -- the picture ----------------------------------------------------------------------------
    def svg(self) -> str:
        """Networks as boxes side by side, each service in the box of its first network (a line
        to its other networks), ports under a service's name, depends_on as arrows."""
        box_w, svc_w, svc_h, gap, top = 220, 180, 54, 16, 40
        networks: list[str] = []
        for nets in self.network_of.values():
            for n in nets:
                if n not in networks:
                    networks.append(n)
        placed: dict[str, tuple[int, int]] = {}
        columns: dict[str, list[str]] = {n: [] for n in networks}
        for service, nets in sorted(self.network_of.items()):
            columns[nets[0]].append(service)
        ports = {r.service: r.ports for r in self._rows}
        states = {r.service: r.state for r in self._rows}
        height = top + max([len(v) for v in columns.values()] + [1]) * (svc_h + gap) + gap
        width = max(1, len(networks)) * (box_w + gap) + gap
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
                 'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
        for i, net in enumerate(networks):
            x = gap + i * (box_w + gap)
            parts.append(f'<rect x="{x}" y="10" width="{box_w}" height="{height - 20}" rx="8" fill="#eef4fb" '
                         f'stroke="#6a8fc7"/><text x="{x + 10}" y="28" font-weight="bold">network '
                         f'{html.escape(net)}</text>')
            for j, service in enumerate(columns[net]):
                sx, sy = x + (box_w - svc_w) // 2, top + j * (svc_h + gap)
                placed[service] = (sx, sy)
                healthy = "unhealthy" not in states.get(service, "") and "exited" not in states.get(service, "")
                fill = "#ffffff" if healthy else "#fde8e8"
                label = html.escape(service)
                detail = html.escape(", ".join(ports.get(service, [])) or states.get(service, ""))
                parts.append(f'<rect x="{sx}" y="{sy}" width="{svc_w}" height="{svc_h}" rx="6" fill="{fill}" '
                             f'stroke="#333"/><text x="{sx + 8}" y="{sy + 20}" font-weight="bold">{label}</text>'
                             f'<text x="{sx + 8}" y="{sy + 40}" fill="#444">{detail}</text>')
        for service, nets in self.network_of.items():  # a service on more networks: a dashed line to each
            if service not in placed:
                continue
            sx, sy = placed[service]
            for other in nets[1:]:
                ox = gap + networks.index(other) * (box_w + gap)
                parts.append(f'<line x1="{sx + svc_w}" y1="{sy + svc_h // 2}" x2="{ox}" y2="{sy + svc_h // 2}" '
                             f'stroke="#6a8fc7" stroke-dasharray="4 3"/>')
        for service, deps in self.depends.items():
            for dep in deps:
                if service in placed and dep in placed:
                    (x1, y1), (x2, y2) = placed[service], placed[dep]
                    if x1 == x2:  # one column: from one box's edge to the other's, up or down
                        start = (x1 + svc_w // 2, y1 + (0 if y2 < y1 else svc_h))
                        end = (x2 + svc_w // 2, y2 + (svc_h if y2 < y1 else 0))
                    else:  # side by side: from the facing edges, at mid height
                        start = (x1 + (svc_w if x2 > x1 else 0), y1 + svc_h // 2)
                        end = (x2 + (0 if x2 > x1 else svc_w), y2 + svc_h // 2)
                    parts.append(f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" '
                                 f'stroke="#555" marker-end="url(#arrow)"><title>{html.escape(service)} depends on '
                                 f'{html.escape(dep)}</title></line>')
        parts.append("</svg>")
        return "".join(parts)
