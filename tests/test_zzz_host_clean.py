"""Last: after the whole suite, the host holds nothing of ours."""

import gc
import shutil
import time

from conftest import CGROUP_PARENT, SESSION_ROOT
from hostcheck import leftovers


def test_nothing_of_ours_is_left_on_the_host():
    gc.collect()  # engines' shims exit when their socket closes
    deadline = time.monotonic() + 5
    while leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) == []
    from bocker_magics.engine.cgroups import detect
    for version in ("v1", "v2"):
        try:
            import os
            os.environ["BOCKER_CGROUP_DRIVER"] = version
            detect(parent=CGROUP_PARENT).remove_parent()
        except Exception:
            pass
        finally:
            os.environ.pop("BOCKER_CGROUP_DRIVER", None)
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)
    assert leftovers(str(SESSION_ROOT), CGROUP_PARENT) == []
