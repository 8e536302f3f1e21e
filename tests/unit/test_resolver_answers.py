"""The embedded resolver's answers, message by message (dnspython builds the questions)."""

from __future__ import annotations

import json

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename

from bocker_magics.engine.network.resolver import TTL, Names, NamesFile, Resolver


def table() -> Names:
    return Names.from_records([{"names": ["db", "database", "app-db-1"], "addresses": ["10.7.0.2"]},
                               {"names": ["web"], "addresses": ["10.7.0.3", "fd00::3"]}])


def ask(resolver: Resolver, name: str, rdtype: str = "A"):
    wire = resolver.local_answer(dns.message.make_query(name, rdtype).to_wire())
    return None if wire is None else dns.message.from_wire(wire)


def test_names_and_aliases_answer_with_their_address():
    r = Resolver(table)
    for name in ("db", "DB.", "database", "app-db-1"):
        answer = ask(r, name)
        assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.QR and answer.flags & dns.flags.RA
        assert [rr.to_text() for rrset in answer.answer for rr in rrset] == ["10.7.0.2"]
        assert answer.answer[0].ttl == TTL
    assert [rr.to_text() for rrset in ask(r, "web", "AAAA").answer for rr in rrset] == ["fd00::3"]
    assert sorted(rr.to_text() for rrset in ask(r, "web", "ANY").answer for rr in rrset) == ["10.7.0.3", "fd00::3"]


def test_a_name_of_ours_without_that_type_is_an_empty_noerror():
    answer = ask(Resolver(table), "db", "AAAA")
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer == []
    assert ask(Resolver(table), "db", "MX").answer == []


def test_ptr_of_a_container_address():
    answer = ask(Resolver(table), dns.reversename.from_address("10.7.0.2").to_text(), "PTR")
    assert [rr.to_text() for rrset in answer.answer for rr in rrset] == ["db."]
    assert ask(Resolver(table), dns.reversename.from_address("10.9.9.9").to_text(), "PTR") is None  # upstream's


def test_other_names_go_upstream_and_none_answering_is_servfail():
    assert ask(Resolver(table), "example.test") is None  # not ours: forwarded
    r = Resolver(table, upstreams=[])
    failed = dns.message.from_wire(r.answer(dns.message.make_query("example.test", "A").to_wire()))
    assert failed.rcode() == dns.rcode.SERVFAIL
    assert Resolver(table, ["127.0.0.11", "10.0.0.1"]).upstreams == ["10.0.0.1"]  # never itself


def test_garbage_gets_no_answer_and_odd_opcodes_notimp():
    r = Resolver(table)
    assert r.local_answer(b"\x00\x01garbage") is None
    q = dns.message.make_query("db", "A")
    q.set_opcode(dns.opcode.NOTIFY)
    assert dns.message.from_wire(r.local_answer(q.to_wire())).rcode() == dns.rcode.NOTIMP


def test_names_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "names.json"
    names = NamesFile(path)
    assert names().addresses == {}
    path.write_text(json.dumps({"records": [{"names": ["a"], "addresses": ["10.0.0.2"]}]}))
    assert names().addresses == {"a": ["10.0.0.2"]}
    tmp = tmp_path / "new"
    tmp.write_text(json.dumps({"records": [{"names": ["b"], "addresses": ["10.0.0.3"]}]}))
    tmp.rename(path)  # the engine's atomic rewrite
    assert names().addresses == {"b": ["10.0.0.3"]}
    path.write_text("{broken")
    assert names().addresses == {"b": ["10.0.0.3"]}  # the last good table while it is rewritten


def test_a_repeated_question_is_answered_again_with_its_own_id_until_the_table_changes():
    current = {"table": table()}
    r = Resolver(lambda: current["table"])
    first, second = dns.message.make_query("db", "A"), dns.message.make_query("db", "A")
    second.id = (first.id + 1) % 65536
    a, b = (dns.message.from_wire(r.local_answer(q.to_wire())) for q in (first, second))
    assert (a.id, b.id) == (first.id, second.id)
    assert [rr.to_text() for rrset in b.answer for rr in rrset] == ["10.7.0.2"]
    assert ask(r, "example.test") is None and ask(r, "example.test") is None  # still upstream's, asked twice
    current["table"] = Names.from_records([{"names": ["db"], "addresses": ["10.7.0.9"]}])  # the engine moved db
    assert [rr.to_text() for rrset in ask(r, "db").answer for rr in rrset] == ["10.7.0.9"]
    assert ask(r, "web") is None
