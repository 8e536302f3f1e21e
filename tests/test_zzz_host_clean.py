"""Last: after the whole suite, the host holds nothing of ours."""

import time

from conftest import (
    CGROUP_PARENT,
    HOST_NETNS,
    SESSION_ROOT,
    remove_session_state,
    session_servers,
    stop_session_servers,
)
from hostcheck import leftovers, network_leftovers


def test_nothing_of_ours_is_left_on_the_host():
    stop_session_servers()  # the bocker servers the CLI tests started, whatever their root
    assert session_servers() == []
    deadline = time.monotonic() + 5
    while leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) == []
    remove_session_state()
    assert leftovers(str(SESSION_ROOT), CGROUP_PARENT) == []
    # the session's bridges and rules live in its own network namespace; the host's has none
    assert network_leftovers(HOST_NETNS) == []
