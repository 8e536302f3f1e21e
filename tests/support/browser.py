"""JupyterLab in a real browser, for tests: start a private JupyterLab, open a notebook in
headless Chromium (Playwright), run cells, wait for and read their outputs, take
screenshots, interrupt the kernel, ask for completions.

    with JupyterLab.start(home) as lab, Chromium.start(home / "chromium") as browser:
        nb = browser.open_notebook(lab, "check.ipynb", artifacts=home / "shots")
        cell = nb.run_cell("%load_ext bocker_magics\\n%bocker ps")
        cell.output_html()        # what the output area rendered
        nb.screenshot("ps")

Everything JupyterLab reads or writes (config, data, runtime, IPython's dir, settings,
workspaces, the notebooks) lives under `home`; its only kernel is this interpreter
(sys.executable), with the environment the caller gives. No network: the server listens
on 127.0.0.1 with a token, fetches no news, checks no updates, has no extension manager;
Chromium runs with every background fetch off. The caller runs it all in a network
namespace of its own (tests/host/conftest.py does).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium reaches for Google's services
# (component updates, sync, variations) and is refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server"]
KERNEL_NAME = "bocker-test"
DONE_PROMPT = re.compile(r"^\[\d+\]:$")  # "[3]:"; "[*]:" while busy, "[ ]:" before a run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


# -- the server ---------------------------------------------------------------------------------
@dataclass
class JupyterLab:
    """A JupyterLab server of our own: `start`, then `stop` (or use it as a context manager)."""

    home: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def notebook_dir(self) -> Path:
        return self.home / "notebooks"

    @classmethod
    def start(cls, home: Path, env: dict[str, str] | None = None, timeout: float = 120) -> JupyterLab:
        home.mkdir(parents=True, exist_ok=True)
        dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "notebooks",
                                                 "lab-settings", "lab-workspaces", "xdg-cache", "xdg-config")}
        for d in dirs.values():
            d.mkdir(exist_ok=True)
        port, token = _free_port(), secrets.token_hex(24)
        _write_json(dirs["config"] / "jupyter_server_config.json", {
            "ServerApp": {
                "ip": "127.0.0.1", "port": port, "port_retries": 0, "open_browser": False,
                "allow_root": True, "root_dir": str(dirs["notebooks"]),
                # the language-server scan is of no use here and slows the start
                "jpserver_extensions": {"jupyter_lsp": False},
            },
            "IdentityProvider": {"token": token},
            "KernelSpecManager": {"ensure_native_kernel": False},  # ours is the only kernel
            "LabApp": {"news_url": None, "extension_manager": "readonly",
                       "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
        })
        # The frontend's side of the same: no news prompt, no update check; every cell in the
        # DOM (no windowing), so a locator finds cells scrolled out of view.
        settings = dirs["lab-settings"] / "@jupyterlab"
        _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                    {"fetchNews": "false", "checkForUpdates": False})
        _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
        _write_json(settings / "extensionmanager-extension" / "plugin.jupyterlab-settings", {"enabled": False})
        _write_json(dirs["data"] / "kernels" / KERNEL_NAME / "kernel.json", {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "bocker (test)", "language": "python", "metadata": {"debugger": False},
        })
        full_env = {**os.environ, **(env or {}),
                    "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
                    "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "IPYTHONDIR": str(dirs["ipython"]),
                    "JUPYTERLAB_SETTINGS_DIR": str(dirs["lab-settings"]),
                    "JUPYTERLAB_WORKSPACES_DIR": str(dirs["lab-workspaces"]),
                    # the rest of ~: jedi's cache (completion), matplotlib's font list
                    "XDG_CACHE_HOME": str(dirs["xdg-cache"]), "XDG_CONFIG_HOME": str(dirs["xdg-config"])}
        for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH"):
            full_env.pop(var, None)
        log = home / "jupyterlab.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "jupyterlab"], cwd=dirs["notebooks"],
                                       env=full_env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        lab = cls(home, port, token, process, log)
        try:
            lab._wait_ready(timeout)
        except BaseException:
            lab.stop()
            raise
        return lab

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterlab exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyterlab did not answer in {timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.2)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def api(self, path: str, method: str = "GET", timeout: float = 10) -> Any:
        """A REST call to the server; no proxy, whatever the environment says."""
        req = urllib.request.Request(self.base_url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}?token={self.token}"

    def write_notebook(self, name: str, cells: list[str] | None = None) -> Path:
        """A notebook for our kernel (so opening it asks nothing), with these code cells."""
        nb = {"nbformat": 4, "nbformat_minor": 5,
              "metadata": {"kernelspec": {"name": KERNEL_NAME, "display_name": "bocker (test)", "language": "python"},
                           "language_info": {"name": "python"}},
              "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
                         "outputs": [], "source": src} for i, src in enumerate(cells or [""])]}
        path = self.notebook_dir / name
        _write_json(path, nb)
        return path

    def processes(self) -> list[int]:
        """Our processes still alive: the server and its kernels (a kernel's command line names
        its connection file under our runtime dir; kernels run in sessions of their own)."""
        found = []
        marker = str(self.home).encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker in f.read():
                        found.append(int(pid))
            except OSError:
                continue
        if self.process.poll() is None:
            found.append(self.process.pid)
        return sorted(set(found))

    def stop(self, timeout: float = 20) -> None:
        """Shut the server down the way a user does (it shuts its kernels down first); then
        make sure: SIGTERM, SIGKILL, for the server and any kernel still alive."""
        if self.process.poll() is None:
            try:
                self.api("/api/shutdown", method="POST")
            except OSError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while self.processes() and time.monotonic() < deadline:
                if self.process.poll() is None:
                    try:
                        self.process.wait(0.1)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(0.1)
        self.process.poll()

    def __enter__(self) -> JupyterLab:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# -- the browser --------------------------------------------------------------------------------
@dataclass
class Chromium:
    """Debian's Chromium driven by Playwright, headless, with a fresh profile."""

    playwright: Any
    context: Any
    profile: Path

    @classmethod
    def start(cls, profile: Path, executable: str = CHROMIUM) -> Chromium:
        from playwright.sync_api import sync_playwright

        # Chromium keeps its crash database and dconf's cache under XDG dirs, whatever the
        # profile: those go beside the profile too, so ~ is left as it was
        xdg = {"XDG_CONFIG_HOME": str(profile.parent / "chromium-config"),
               "XDG_CACHE_HOME": str(profile.parent / "chromium-cache")}
        pw = sync_playwright().start()
        try:
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                env={**os.environ, **xdg},
                viewport={"width": 1280, "height": 900}, accept_downloads=False)
        except BaseException:
            pw.stop()
            raise
        return cls(pw, context, profile)

    def open_notebook(self, lab: JupyterLab, name: str, artifacts: Path, timeout: float = 90) -> Notebook:
        """Open a notebook of lab's notebook dir and wait until its kernel answers."""
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        page.set_default_timeout(30_000)
        page.goto(lab.url(f"/lab/tree/{name}"), wait_until="domcontentloaded")
        tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=name)
        tab.wait_for(timeout=timeout * 1000)
        nb = Notebook(page, f"[id='{tab.get_attribute('data-id')}']", artifacts)
        nb.cells.first.locator(".cm-content").wait_for(timeout=timeout * 1000)
        # the notebook gets the whole width: the file browser goes (View > Show Left Sidebar)
        if page.locator("#jp-left-stack").is_visible():
            page.keyboard.press("Control+b")
            page.locator("#jp-left-stack").wait_for(state="hidden")
        page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$")).wait_for(timeout=timeout * 1000)
        artifacts.mkdir(parents=True, exist_ok=True)
        # a cell that runs proves the kernel is up
        nb.run_cell("1 + 1", timeout=timeout)
        return nb

    def stop(self) -> None:
        try:
            self.context.close()
        finally:
            self.playwright.stop()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# -- a notebook in the page ---------------------------------------------------------------------
_PROMPT_JS = """([panel, index]) => {
    const cell = document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell')[index];
    const prompt = cell && cell.querySelector('.jp-InputArea-prompt');
    return prompt ? prompt.textContent.trim() : null;
}"""
_SOURCE_JS = """(content) => Array.from(content.querySelectorAll('.cm-line')).map(l => l.textContent).join('\\n')"""


@dataclass
class Cell:
    """One code cell of the page: its prompt tells busy from done; its outputs are read as the
    page shows them (text as rendered, HTML of the output area)."""

    notebook: Notebook
    index: int

    @property
    def locator(self):
        return self.notebook.cells.nth(self.index)

    @property
    def editor(self):
        return self.locator.locator(".jp-InputArea-editor .cm-content")

    @property
    def prompt(self) -> str:
        return self.locator.locator(".jp-InputArea-prompt").inner_text().strip()

    @property
    def busy(self) -> bool:
        return self.prompt == "[*]:"

    @property
    def source(self) -> str:
        """The cell's text as the editor holds it."""
        return self.editor.evaluate(_SOURCE_JS)

    @property
    def outputs(self):
        return self.locator.locator(".jp-OutputArea-output")

    def wait_prompt(self, js_test: str, timeout: float) -> None:
        """Until the prompt's text passes `js_test` (a JS expression over `p`)."""
        self.notebook.page.wait_for_function(
            f"""(args) => {{ const p = ({_PROMPT_JS})(args); return p !== null && ({js_test}); }}""",
            arg=[self.notebook.panel, self.index], timeout=timeout * 1000)

    def wait_done(self, timeout: float = 60) -> Cell:
        self.wait_prompt(f"new RegExp({json.dumps(DONE_PROMPT.pattern)}).test(p)", timeout)
        return self

    def wait_for_output(self, text: str, timeout: float = 30) -> Cell:
        """Until the output area shows `text` (the cell may still be running)."""
        self.locator.locator(".jp-OutputArea").get_by_text(text, exact=False).first.wait_for(timeout=timeout * 1000)
        return self

    def output_text(self) -> str:
        area = self.locator.locator(".jp-Cell-outputArea")
        return area.inner_text() if area.count() else ""

    def output_html(self) -> str:
        area = self.locator.locator(".jp-Cell-outputArea")
        return area.inner_html() if area.count() else ""

    def screenshot(self, name: str) -> Path:
        self.locator.scroll_into_view_if_needed()
        return self.notebook.screenshot(name)


@dataclass
class Completion:
    cell: Cell
    items: list[str]  # the menu's entries, top to bottom
    line: str         # the cell's text after Tab (a single match is inserted without a menu)


@dataclass
class Notebook:
    """The notebook panel `panel` (a CSS selector) of the page."""

    page: Any
    panel: str
    artifacts: Path
    shots: list[Path] = field(default_factory=list)
    _used: int = 0  # cells of the page already run or typed into

    @property
    def cells(self):
        return self.page.locator(f"{self.panel} .jp-Notebook .jp-Cell")

    def new_cell(self, code: str) -> Cell:
        """A cell at the end with `code` typed into it (not run)."""
        if self._used >= self.cells.count():
            last = self.cells.nth(self.cells.count() - 1)
            last.locator(".jp-InputArea-prompt").click()  # select it, command mode
            self.page.keyboard.press("Escape")
            self.page.keyboard.press("b")  # insert a cell below
            self.cells.nth(self._used).wait_for()
        cell = Cell(self, self._used)
        self._used += 1
        self._type(cell, code)
        return cell

    def _type(self, cell: Cell, code: str, tries: int = 3) -> None:
        """Into the cell's editor, as text input rather than key presses (no auto-closed
        brackets or auto-indent). Text typed before the editor has focus is lost: the
        editor is checked, and cleared and typed again if it does not hold the code."""
        for _ in range(tries):
            cell.editor.click()
            cell.locator.locator(".cm-editor.cm-focused").wait_for(timeout=10_000)
            self.page.keyboard.insert_text(code)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if cell.source == code:
                    return
                time.sleep(0.05)
            self.page.keyboard.press("Control+a")
            self.page.keyboard.press("Delete")
        raise RuntimeError(f"cell {cell.index} holds {cell.source!r}, not the code typed: {code!r}")

    def run_cell(self, code: str, wait: bool = True, timeout: float = 60) -> Cell:
        cell = self.new_cell(code)
        self.page.keyboard.press("Control+Enter")  # run, stay on the cell
        # the prompt leaves "[ ]:" once the request is sent ("[*]:", or "[N]:" if quick)
        cell.wait_prompt("p !== '[ ]:' && p !== ''", timeout=15)
        if wait:
            cell.wait_done(timeout)
        return cell

    def interrupt(self) -> None:
        """The toolbar's stop button (Interrupt the kernel)."""
        self.page.locator(f'{self.panel} .jp-NotebookPanel-toolbar '
                          '[data-command="notebook:interrupt-kernel"]').first.click()

    def complete(self, text: str, timeout: float = 10) -> Completion:
        """Type `text` into a new cell (left unrun), press Tab, and read what the completion
        menu lists ([] when none opens: Tab may have inserted a single match, or nothing).
        `close_completion` closes the menu."""
        cell = self.new_cell(text)
        self.page.keyboard.press("End")
        self.page.keyboard.press("Tab")
        menu = self.page.locator(".jp-Completer")
        items: list[str] = []
        try:
            menu.locator(".jp-Completer-item").first.wait_for(timeout=timeout * 1000)
            items = [t.strip() for t in menu.locator(".jp-Completer-item .jp-Completer-match").all_inner_texts()]
        except Exception as e:
            if type(e).__name__ != "TimeoutError":
                raise
        return Completion(cell, items, cell.source)

    def close_completion(self) -> None:
        self.page.keyboard.press("Escape")

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{len(self.shots) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        self.shots.append(path)
        return path
