"""The devices policy as data (engine.kernel.devices): the default rules, their OCI form and
v1 lines, bad rules, and the --device option's parser. Nothing is loaded into the kernel here:
tests/host/test_devices.py applies the policies to real cgroups, as root.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from bocker_magics.engine.kernel import devices
from bocker_magics.engine.kernel.devices import (
    DeviceNode,
    DeviceRule,
    default_rules,
    parse_device,
)
from bocker_magics.errors import InvalidArgument


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg, msg
    return msg


# --------------------------------------------------------------------------- rules as data


def test_default_rules_deny_all_then_the_default_nodes():
    rules = default_rules()
    assert rules[0] == DeviceRule(allow=False, type="a", access="rwm")
    allowed = {(r.type, r.major, r.minor) for r in rules[1:]}
    assert allowed == {
        ("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9),
        ("c", 5, 0), ("c", 5, 1), ("c", 5, 2), ("c", 136, None),
    }
    assert all(r.allow and r.access == "rwm" for r in rules[1:])
    # no wildcard mknod rule (Docker's "c *:* m" / "b *:* m")
    assert not any(r.major is None for r in rules[1:])


def test_rules_round_trip_through_oci():
    rules = default_rules()
    oci = devices.rules_to_oci(rules)
    assert oci[0] == {"allow": False, "type": "a", "access": "rwm"}
    assert oci[1] == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in oci
    assert devices.rules_from_oci(json.loads(json.dumps(oci))) == rules
    # OCI defaults: no type is "a", no access is "rwm", -1 is runc's wildcard
    assert DeviceRule.from_oci({"allow": False}) == DeviceRule(False, "a", None, None, "rwm")
    assert DeviceRule.from_oci({"allow": True, "type": "b", "major": 8, "minor": -1, "access": "r"}) == DeviceRule(
        True, "b", 8, None, "r"
    )


@pytest.mark.parametrize(
    "entry, says",
    [
        ({"allow": True, "type": "x"}, "type 'x' is unknown"),
        ({"allow": True, "type": "c", "access": "rwx"}, "access 'rwx' is invalid"),
        ({"allow": True, "type": "c", "access": "rr"}, "access 'rr' is invalid"),
        ({"allow": True, "type": "c", "major": -5}, "major -5 is invalid"),
        ({"allow": True, "type": "c", "minor": "3"}, "minor '3' is invalid"),
        ({"allow": "yes"}, "must be true or false"),
        ({"type": "c"}, "needs at least an 'allow'"),
        ({"allow": True, "path": "/dev/x"}, "unknown fields ['path']"),
    ],
)
def test_bad_rules_are_one_line(entry, says):
    with pytest.raises(InvalidArgument) as ei:
        DeviceRule.from_oci(entry)
    assert says in one_line(ei.value)


def test_v1_lines():
    assert DeviceRule(False).v1_lines() == ["a"]
    assert DeviceRule(True, "c", 136, None, "rwm").v1_lines() == ["c 136:* rwm"]
    # v1 reads any "a" line as everything: a narrower "a" rule becomes its b and c halves
    assert DeviceRule(True, "a", 1, None, "r").v1_lines() == ["b 1:* r", "c 1:* r"]


# --------------------------------------------------------------------------- --device


def test_parse_device_gives_the_node_and_its_rule():
    st = os.stat("/dev/null")
    node, rule = parse_device("/dev/null")
    assert node == DeviceNode("/dev/null", "c", 1, 3, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    assert node.to_oci() == {
        "path": "/dev/null", "type": "c", "major": 1, "minor": 3,
        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
    }
    assert DeviceNode.from_oci(node.to_oci()) == node
    assert rule == DeviceRule(True, "c", 1, 3, "rwm")
    assert parse_device("/dev/null:rw") == (node, DeviceRule(True, "c", 1, 3, "rw"))
    node2, rule2 = parse_device("/dev/null:/dev//./mynull:r")
    assert node2.path == "/dev/mynull"
    assert rule2.access == "r"
    node3, _ = parse_device("/dev/null:/dev/mynull")
    assert node3.path == "/dev/mynull"


def test_parse_device_follows_a_symlink_to_the_device(tmp_path):
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    node, rule = parse_device(f"{link}:/dev/z")
    assert (node.path, node.type, node.major, node.minor) == ("/dev/z", "c", 1, 5)


@pytest.mark.parametrize(
    "text, says",
    [
        ("/dev/does-not-exist", "no such device /dev/does-not-exist"),
        ("/etc/passwd", "/etc/passwd is not a character or block device"),
        ("/etc", "/etc is not a character or block device"),
        ("/dev/null:/dev/x:rwx", "permissions 'rwx' is invalid"),
        ("/dev/null:/dev/x:", "permissions '' is invalid"),
        ("/dev/null:/dev/x:rr", "permissions 'rr' is invalid"),
        ("/dev/null:dev/x", "'dev/x' is neither an absolute container path"),
        ("/dev/null:rwx", "'rwx' is neither an absolute container path"),
        ("/dev/null:/dev/../x", "may not contain '..'"),
        ("/dev/null:/dev", "must name a file"),
        ("dev/null", "host path 'dev/null' must be absolute"),
        ("/dev/null:/a:rw:x", "too many ':'"),
        ("", "is invalid; use HOST[:CONTAINER][:rwm]"),
    ],
)
def test_bad_device_options_are_one_line(text, says):
    with pytest.raises(InvalidArgument) as ei:
        parse_device(text)
    assert says in one_line(ei.value)
