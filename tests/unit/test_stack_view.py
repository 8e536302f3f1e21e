"""The stack view: its table, its frame and its offline picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bocker_magics.views.stack import StackRow, StackView


def view() -> StackView:
    rows = [StackRow("db", "app-db-1", "running (healthy)", [], ["app_back"], "busybox"),
            StackRow("web", "app-web-1", "running", ["8080:80"], ["app_front", "app_back"], "busybox"),
            StackRow("api", "app-api-1", "exited (1)", [], ["app_back"], "app-api")]
    return StackView("app", rows, {"web": ["api"], "api": ["db"], "db": []},
                     {"web": ["front", "back"], "api": ["back"], "db": ["back"]})


def test_table_and_frame():
    v = view()
    assert v.rows()[1] == ["web", "app-web-1", "running", "8080:80", "app_front, app_back", "busybox"]
    frame = v.to_frame()
    assert list(frame.columns) == ["service", "container", "state", "ports", "networks", "image"]
    assert frame.loc[1, "networks"] == ["app_front", "app_back"]
    assert "app-db-1" in v._text()


def test_picture_is_svg_with_networks_services_ports_and_arrows():
    svg = view().svg()
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "network front" in texts and "network back" in texts
    assert {"web", "api", "db", "8080:80"} <= set(texts)
    arrows = [line for line in root.iter("{http://www.w3.org/2000/svg}line") if line.get("marker-end")]
    assert len(arrows) == 2  # web -> api, api -> db
    html = view()._html()
    assert 'class="tex2jax_ignore mathjax_ignore"' in html and "<svg" in html and "<table>" in html
