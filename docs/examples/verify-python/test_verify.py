#!/usr/bin/env python3
"""Tests of verify.py.

Two parts:

* ``TestVectors`` runs every case of a directory of vectors signed by dpihub
  (``$DPIHUB_VECTORS``, default ``../vectors`` next to this file): it fails,
  never skips, when the directory or its cases are missing.
* The other classes need nothing but this directory: they sign events
  themselves with fresh ed25519 keys, building every byte from
  docs/security.md with hashlib (not with verify.py's helpers), which checks
  that the doc's description is self-consistent and that verify.py follows it.

Run: ``python3 -m unittest -v test_verify`` (or ``python3 test_verify.py``)
from this directory.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import verify  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PT = "https://cloudevents.io/verifiability/dsse/v0.1"
CORE = ("id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time")


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii")


def j(value) -> str:
    """Compact JSON as dpihub writes it (raw UTF-8, escapes don't matter for attributes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Key:
    """A fresh ed25519 key and its trust-list entry (doc 6)."""

    def __init__(self, country: str, **entry):
        self.priv = Ed25519PrivateKey.generate()
        self.pub = self.priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.country = country
        self.keyid = f"{country}:{hashlib.sha256(self.pub).hexdigest()[:16]}"
        self.entry = {"country": country, "keyid": self.keyid, "public_key": b64(self.pub), **entry}

    def sign(self, msg: bytes) -> bytes:
        return self.priv.sign(msg)


def trust_of(*keys: Key) -> verify.TrustList:
    return verify.load_trust_list(json.dumps({"keys": [k.entry for k in keys]}).encode())


def pae(payload: bytes, ptype: str = PT) -> bytes:
    t = ptype.encode()
    return b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(payload)).encode() + b" " + payload


def base_attrs(**over):
    attrs = {
        "specversion": "1.0",
        "id": "ma-0193-0001",
        "source": "urn:dpihub:ma:node",
        "type": "org.dpihub.fix.published.v1",
        "subject": "mosip-id-repository",
        "datacontenttype": "application/json",
        "dataschema": "urn:dpihub:schema:org.dpihub.fix.published.v1",
        "time": "2026-11-29T21:00:00.12Z",
        "country": "ma",
    }
    attrs.update(over)
    return {k: v for k, v in attrs.items() if v is not None}


DATA = '{"fix_id":"ma-fix-1","title":"Corrig\u00e9 \\u003cb\\u003e","n":[1,2,{"x":"}"}]}'


def make_event(key: Key | None, attrs=None, data: str | None = DATA, *,
               time_hashed: str | None = "2026-11-29T21:00:00Z",
               data_bytes: bytes | None = None,
               signed_names=("country",), material=None, legacy=False,
               legacy_time: str | None = "2026-11-29T21:00:00.12Z",
               with_digests=True, keyid=None, sig_mutator=None,
               encode=b64, extra_signatures=(), payload_override=None,
               envelope_override=None, after_sign=None) -> bytes:
    """Sign an event following docs/security.md, byte by byte, and return the body.

    ``attrs`` are the top-level members other than data and the signature
    members, in order; ``data`` the raw JSON text of data (None for none).
    ``after_sign`` may change the attributes after signing (tampering).
    """
    attrs = dict(base_attrs() if attrs is None else attrs)
    if data_bytes is None:
        data_bytes = b"" if data is None else data.encode("utf-8")
    parts = []
    for name in CORE:
        if name == "time":
            value = legacy_time if legacy else time_hashed
            parts.append(H(value.encode()) if value and attrs.get("time") else H(b""))
        else:
            value = attrs.get(name)
            parts.append(H(value.encode("utf-8") if value else b""))
    parts.append(H(data_bytes))
    if legacy:
        lst = b"".join(parts)
        for name in signed_names:
            lst += H(name.encode()) + H(str(attrs.get(name, "")).encode())
        payload = H(lst)
        digests = lst
        attrs["signedextattrs"] = ",".join(signed_names)
    else:
        ext_parts = [H(str(attrs.get(name, "")).encode()) for name in signed_names]
        core_d, ext_d = H(b"".join(parts)), H(b"".join(ext_parts))
        if material is None:
            material = {"core": b64(core_d), "ext": b64(ext_d), "signedextattrs": list(signed_names)}
        elif callable(material):
            material = material(core_d, ext_d)
        payload = material if isinstance(material, bytes) else j(material).encode()
        digests = b"".join(parts + ext_parts)
    if payload_override is not None:
        payload = payload_override
    if key is not None:
        sig = key.sign(pae(payload))
        if sig_mutator:
            sig = sig_mutator(sig)
        sigs = list(extra_signatures) + [{"keyid": keyid or key.keyid, "sig": encode(sig)}]
        envelope = {"payloadType": PT, "payload": encode(payload), "signatures": sigs}
        if envelope_override is not None:
            envelope = envelope_override(envelope)
        env_bytes = envelope if isinstance(envelope, bytes) else j(envelope).encode()
        dsse = encode(env_bytes)
    if after_sign:
        after_sign(attrs)
    members = [f"{j(k)}:{j(v)}" for k, v in attrs.items()]
    if with_digests:
        members.append(f'"dpihubdigests":{j(b64(digests))}')
    if key is not None:
        members.append(f'"dssematerial":{j(dsse)}')
    if data is not None:
        members.append(f'"data":{data}')
    return ("{" + ",".join(members) + "}").encode("utf-8")


STORED = "2026-11-29T21:00:01.5Z"


class Base(unittest.TestCase):
    def setUp(self):
        self.ma = Key("ma", not_before="2026-01-01T00:00:00Z", not_after="2027-01-01T00:00:00Z",
                      comment="Morocco")
        self.lk = Key("lk")
        self.hub = Key("hub")
        self.trust = trust_of(self.ma, self.lk, self.hub)

    def check(self, body: bytes, want: str, stored=STORED, trust=None, detail_has: str | None = None):
        r = verify.verify(body, trust or self.trust, stored)
        got = "verified" if r.ok else r.reason
        self.assertEqual(got, want, f"detail: {r.detail}")
        if detail_has is not None:
            self.assertIn(detail_has, r.detail)
        return r


# ---------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------

class TestPAE(unittest.TestCase):
    def test_dsse_example(self):
        # The example of the DSSE v1.0.2 protocol.
        self.assertEqual(verify.pae("http://example.com/HelloWorld", b"hello world"),
                         b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")

    def test_cloudevents_type(self):
        # The type is 46 bytes (docs/security.md section 4 says 47: it is 46).
        self.assertEqual(len(PT.encode()), 46)
        self.assertEqual(verify.pae(PT, b'{"core":"x"}'),
                         b'DSSEv1 46 https://cloudevents.io/verifiability/dsse/v0.1 12 {"core":"x"}')
        self.assertEqual(verify.pae(PT, b""), b"DSSEv1 46 " + PT.encode() + b" 0 ")


class TestTime(unittest.TestCase):
    def test_canonical(self):
        cases = {
            "2020-06-18T19:24:53+02:00": "2020-06-18T17:24:53Z",
            "2026-05-13T09:49:12.999Z": "2026-05-13T09:49:12Z",
            "2026-05-13T10:49:12.123456+01:00": "2026-05-13T09:49:12Z",
            "2026-11-29T21:00:00.12Z": "2026-11-29T21:00:00Z",
            "2026-11-29T21:00:00Z": "2026-11-29T21:00:00Z",
            "2026-11-29T21:00:00": "2026-11-29T21:00:00Z",          # no offset: UTC
            "2026-12-31T23:30:00.999999999999-01:00": "2027-01-01T00:30:00Z",
            "2026-11-29t21:00:00z": "2026-11-29T21:00:00Z",
        }
        for given, want in cases.items():
            with self.subTest(given):
                self.assertEqual(verify.canonical_time(given), want)
                self.assertEqual(len(verify.canonical_time(given)), 20)

    def test_legacy(self):
        self.assertEqual(verify.legacy_time("2026-11-29T21:00:00.120Z"), "2026-11-29T21:00:00.12Z")
        self.assertEqual(verify.legacy_time("2026-11-29T22:00:00.5+01:00"), "2026-11-29T21:00:00.5Z")
        self.assertEqual(verify.legacy_time("2026-11-29T21:00:00.000Z"), "2026-11-29T21:00:00Z")
        self.assertEqual(verify.legacy_time("2026-11-29T21:00:00.1234567891Z"), "2026-11-29T21:00:00.123456789Z")

    def test_invalid(self):
        for bad in ["2026-11-29", "2026-11-29T21:00Z", "2026-13-01T00:00:00Z", "2026-11-29T21:00:60Z",
                    "2026-11-29T21:00:00.Z", "2026-11-29T21:00:00+2:00", "2026-11-29 21:00:00Z",
                    "2026-11-29T21:00:00+24:00", "\u0662026-11-29T21:00:00Z"]:
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    verify.parse_time(bad)


class TestBase64(unittest.TestCase):
    def test_alphabets(self):
        raw = bytes(range(256))
        self.assertEqual(verify.b64decode(b64(raw)), raw)
        self.assertEqual(verify.b64decode(b64url(raw)), raw)
        self.assertIn("-", b64url(raw))
        # Line breaks are ignored, as dpihub's decoder (Go's) ignores them.
        self.assertEqual(verify.b64decode("QQ\r\n=="), b"A")

    def test_refused(self):
        for bad in ["QQ", "QQ=", "QQ==QQ==", "Q+-=", "Q Q=", "QQ==\t", 5, None, "é==="]:
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    verify.b64decode(bad)


class TestDataCutting(unittest.TestCase):
    def test_whitespace_and_tricky_strings(self):
        value = '{ "a" : "}", "data" : {"data":"\\"data\\":}"} ,"e":"\u00e9\\u003c"\n}'
        body = ('{\n "id":"x", "note":"\\"data\\":{\\"y\\":1}}",\r\n "data" :\t ' + value
                + '\n\t , "z":"}"  }\n').encode("utf-8")
        parsed = verify.parse_body(body)
        self.assertEqual(parsed.data_raw, value.encode("utf-8"))
        self.assertEqual(parsed.members["note"], '"data":{"y":1}}')

    def test_scalar_data(self):
        for value in ['"a string with \\"quotes\\" and }"', "12.50", "true", "[ 1 , 2 ]", "-0"]:
            with self.subTest(value):
                self.assertEqual(verify.parse_body(('{"data": ' + value + ' }').encode()).data_raw,
                                 value.encode())

    def test_refused_bodies(self):
        for bad in [b"[1]", b'"x"', b"", b"{", b'{"a":1} x', b'{"a":1}{"b":2}', b'{"a":NaN}',
                    b'{"a":1,}', b'{a:1}', b"\xef\xbb\xbf{}", b'{"a":"\xff"}']:
            with self.subTest(bad):
                with self.assertRaises(verify.Refused) as cm:
                    verify.parse_body(bad)
                self.assertEqual(cm.exception.reason, "not-a-cloudevent")

    def test_repeated_names(self):
        for bad in [b'{"id":"1","id":"1"}', b'{"data":1,"d\\u0061ta":2}', b'{"data":{"a":1},"x":0,"data":{"a":1}}']:
            with self.subTest(bad):
                with self.assertRaises(verify.Refused) as cm:
                    verify.parse_body(bad)
                self.assertIn("twice", cm.exception.detail)

    def test_nested_repeats_are_data(self):
        self.assertEqual(verify.parse_body(b'{"data":{"a":1,"a":2}}').data_raw, b'{"a":1,"a":2}')


class TestSpecAnchors(unittest.TestCase):
    """Digests the published extension text gives (its Case 5, 6a and 7)."""

    def test_case5_binary_data(self):
        body = (b'{"specversion":"1.0","id":"1","source":"example/uri","type":"example.type.binary",'
                b'"datacontenttype":"application/octet-stream","data_base64":"8J+koQ=="}')
        ev = verify._read_event(body)
        self.assertEqual(b64(H(b"".join(verify.core_digests(ev)))),
                         "qCSeiZkS+hH9WiClfq6plfqYNVy2kvxWRfoBrLEzoDk=")

    def test_ext_digests(self):
        self.assertEqual(b64(H(H(b"value1"))), "kU1P8bDaEnyNhglWzdTJNHh77khNWSZebBUxufVM2pU=")
        self.assertEqual(b64(H(H(b"value1") + H(b"value2"))), "HB1pe431FoQZRsJbyLNMq0QaAvqPtmhdi8dHGShbJAU=")


class TestTrustList(unittest.TestCase):
    RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")

    def test_keyid(self):
        # sha256(pub) = 21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9
        self.assertEqual(verify.derive_keyid("ma", self.RFC8032_PUB), "ma:21fe31dfa154a261")
        self.assertEqual(verify.derive_keyid("hub", self.RFC8032_PUB), "hub:21fe31dfa154a261")

    def entry(self, **over):
        e = {"country": "ma", "keyid": "ma:21fe31dfa154a261", "public_key": b64(self.RFC8032_PUB)}
        e.update(over)
        return {k: v for k, v in e.items() if v is not None}

    def load(self, *entries):
        return verify.load_trust_list(json.dumps({"keys": list(entries)}).encode())

    def test_good(self):
        t = self.load(self.entry(not_before="2026-01-01T00:00:00Z", not_after="2027-01-01T00:00:00+01:00",
                                 revoked=False, comment="x", future_member=1))
        self.assertIn("ma:21fe31dfa154a261", t)
        self.assertEqual(len(t), 1)
        self.load(self.entry(public_key=b64url(self.RFC8032_PUB)))

    def test_from_path(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "trust.json")
            with open(p, "w") as f:
                json.dump({"keys": [self.entry()]}, f)
            self.assertEqual(len(verify.load_trust_list(p)), 1)
            with self.assertRaises(verify.TrustListError):
                verify.load_trust_list(os.path.join(d, "missing.json"))

    def test_refused(self):
        bad = {
            "wrong keyid": [self.entry(keyid="ma:21fe31dfa154a262")],
            "keyid of another country": [self.entry(keyid="lk:21fe31dfa154a261")],
            "uppercase keyid": [self.entry(keyid="ma:21FE31DFA154A261")],
            "keyid missing": [self.entry(keyid=None)],
            "31-byte key": [self.entry(public_key=b64(self.RFC8032_PUB[:31]),
                                       keyid=verify.derive_keyid("ma", self.RFC8032_PUB[:31]))],
            "key not Base64": [self.entry(public_key="not base64!")],
            "bad country": [self.entry(country="MA", keyid="MA:21fe31dfa154a261")],
            "duplicate": [self.entry(), self.entry(comment="again")],
            "empty window": [self.entry(not_before="2027-01-01T00:00:00Z", not_after="2026-01-01T00:00:00Z")],
            "window of no length": [self.entry(not_before="2027-01-01T00:00:00Z", not_after="2027-01-01T00:00:00Z")],
            "bad time": [self.entry(not_after="soon")],
            "revoked not bool": [self.entry(revoked="no")],
        }
        for about, entries in bad.items():
            with self.subTest(about):
                with self.assertRaises(verify.TrustListError):
                    self.load(*entries)
        for raw in [b"", b"[]", b'{"keys":{}}', b'{"keys":[],"keys":[]}', b"{\"keys\":[1]}"]:
            with self.subTest(raw):
                with self.assertRaises(verify.TrustListError):
                    verify.load_trust_list(raw)

    def test_same_key_two_countries_refused(self):
        with self.assertRaises(verify.TrustListError):
            self.load(self.entry(), self.entry(country="lk", keyid="lk:21fe31dfa154a261"))


# ---------------------------------------------------------------------------
# Whole events, signed here following the doc
# ---------------------------------------------------------------------------

class TestVerified(Base):
    def test_published(self):
        r = self.check(make_event(self.ma), "verified")
        self.assertEqual(r.keyid, self.ma.keyid)
        self.assertFalse(r.legacy)
        self.assertEqual(r.event["data"]["title"], "Corrig\u00e9 <b>")
        self.assertEqual(r.event["country"], "ma")
        self.assertNotIn("dpihubdigests", r.event)
        self.assertNotIn("dssematerial", r.event)
        self.assertEqual(r.line(), f"verified org.dpihub.fix.published.v1 ma-0193-0001 from "
                                   f"urn:dpihub:ma:node (key {self.ma.keyid})")

    def test_unsigned_extensions_dropped(self):
        body = make_event(self.ma, base_attrs(traceparent="00-abc", extra="x"))
        r = self.check(body, "verified")
        self.assertNotIn("traceparent", r.event)

    def test_member_order_and_whitespace_irrelevant_outside_data(self):
        body = make_event(self.ma)
        obj = verify.parse_body(body).members
        raw = verify.parse_body(body).data_raw.decode()
        others = ",\n  ".join(f"{j(k)} : {j(v)}" for k, v in reversed(list(obj.items())) if k != "data")
        self.check(('{  "data" :  ' + raw + " ,\n  " + others + "\n}\n").encode(), "verified")

    def test_no_subject_no_dataschema(self):
        self.check(make_event(self.ma, base_attrs(subject=None, dataschema=None, type="org.dpihub.node.heartbeat.v1")),
                   "verified")

    def test_null_attribute_is_absent(self):
        body = make_event(self.ma, base_attrs(subject=None))
        body = body.replace(b'"specversion":"1.0"', b'"specversion":"1.0","subject":null')
        self.check(body, "verified")

    def test_time_with_offset_and_long_fraction(self):
        self.check(make_event(self.ma, base_attrs(time="2026-11-29T22:00:00.987654321987+01:00")), "verified")

    def test_time_without_fraction(self):
        self.check(make_event(self.ma, base_attrs(time="2026-11-29T21:00:00Z")), "verified")

    def test_data_base64(self):
        raw = bytes(range(256))
        attrs = base_attrs(datacontenttype="application/octet-stream")
        body = make_event(self.ma, attrs, None, data_bytes=raw)
        body = body[:-1] + b',"data_base64":"' + b64(raw).encode() + b'"}'
        r = self.check(body, "verified")
        self.assertEqual(r.event["data_base64"], b64(raw))

    def test_no_data(self):
        self.check(make_event(self.ma, data=None), "verified")

    def test_text_data(self):
        attrs = base_attrs(datacontenttype="text/plain")
        body = make_event(self.ma, attrs, '"caf\u00e9 \\u003c"', data_bytes="caf\u00e9 <".encode())
        self.check(body, "verified")

    def test_json_data_string_is_raw(self):
        body = make_event(self.ma, data='"caf\\u00e9"')  # JSON: the bytes as written, quotes included
        self.check(body, "verified")

    def test_url_safe_base64_everywhere(self):
        # Base64 of ASCII JSON never holds '-' or '_'; the signature does, by chance
        # (ed25519 is deterministic, so vary the event until it does).
        for attempt in range(200):
            body = make_event(self.ma, base_attrs(id=f"ma-{attempt}"), encode=b64url, with_digests=False)
            env = verify.parse_body(body).members["dssematerial"]
            sig = json.loads(base64.urlsafe_b64decode(env))["signatures"][0]["sig"]
            if "-" in sig or "_" in sig:
                break
        else:
            self.fail("no URL-safe character in 50 tries")
        self.check(body, "verified")

    def test_without_dpihubdigests(self):
        self.check(make_event(self.ma, with_digests=False), "verified")

    def test_payload_spacing_and_order_free(self):
        def material(core, ext):
            return ('{ "signedextattrs" : [ "country" ] ,\n "future": {"x": 1},'
                    f' "ext" : "{b64(ext)}", "core":"{b64(core)}" }}').encode()
        self.check(make_event(self.ma, material=material), "verified")

    def test_first_trusted_signature_used(self):
        stranger = {"keyid": "xx:0000000000000000", "sig": b64(b"\0" * 64)}
        junk = {"sig": "nokeyid"}
        self.check(make_event(self.ma, extra_signatures=[junk, stranger, "not an object"]), "verified")

    def test_window_edges(self):
        body = make_event(self.ma, base_attrs(time="2025-12-31T23:58:00Z"), time_hashed="2025-12-31T23:58:00Z")
        self.check(body, "verified", stored="2025-12-31T23:58:00Z")
        body = make_event(self.ma, base_attrs(time="2027-01-01T00:02:00Z"), time_hashed="2027-01-01T00:02:00Z")
        self.check(body, "verified", stored="2027-01-01T00:02:00Z")

    def test_time_up_to_two_minutes_ahead(self):
        self.check(make_event(self.ma), "verified", stored="2026-11-29T20:58:00.12Z")

    def test_old_time_fine(self):
        # The window is judged at the stored time, not at the time the event claims.
        body = make_event(self.ma, base_attrs(time="2020-01-01T00:00:00Z"), time_hashed="2020-01-01T00:00:00Z")
        self.check(body, "verified")

    def test_hub_key(self):
        self.check(make_event(self.hub, base_attrs(source="urn:dpihub:hub:registry", country="hub")), "verified")

    def test_stored_as_datetime(self):
        stored = dt.datetime(2026, 11, 29, 21, 0, 1, tzinfo=dt.timezone.utc)
        self.check(make_event(self.ma), "verified", stored=stored)


class TestLegacy(Base):
    def test_verified(self):
        r = self.check(make_event(self.ma, legacy=True), "verified")
        self.assertTrue(r.legacy)
        self.assertNotIn("signedextattrs", r.event)
        self.assertEqual(r.event["country"], "ma")

    def test_time_fraction_is_signed(self):
        self.check(make_event(self.ma, legacy=True, legacy_time="2026-11-29T21:00:00Z"), "tampered-attribute")

    def test_offset_time(self):
        self.check(make_event(self.ma, base_attrs(time="2026-11-29T22:00:00.5000+01:00"), legacy=True,
                              legacy_time="2026-11-29T21:00:00.5Z"), "verified")

    def test_tampered_data_named(self):
        body = make_event(self.ma, legacy=True).replace(b"ma-fix-1", b"ma-fix-2")
        self.check(body, "tampered-data")

    def test_tampered_country_named(self):
        r = self.check(make_event(self.ma, legacy=True, after_sign=lambda a: a.update(country="lk")),
                       "tampered-attribute")
        self.assertIn("country", r.detail)

    def test_tampered_without_digests(self):
        body = make_event(self.ma, legacy=True, with_digests=False).replace(b"ma-fix-1", b"ma-fix-2")
        self.check(body, "tampered-attribute")

    def test_signedextattrs_rules(self):
        for names in [(), ("country", "country"), ("id", "country"), ("country", "other")]:
            with self.subTest(names):
                self.check(make_event(self.ma, legacy=True, signed_names=names), "tampered-attribute")

    def test_signedextattrs_removed(self):
        body = make_event(self.ma, legacy=True).replace(b'"signedextattrs":"country",', b"")
        self.check(body, "tampered-attribute")

    def test_bad_signature(self):
        self.check(make_event(self.ma, legacy=True, sig_mutator=lambda s: bytes([s[0] ^ 1]) + s[1:]),
                   "bad-signature")


class TestRefused(Base):
    def test_not_a_cloudevent(self):
        good = make_event(self.ma)
        cases = {
            "array": b"[" + good + b"]",
            "trailing": good + b"x",
            "repeated id": good.replace(b'{"specversion"', b'{"id":"ma-0193-0001","specversion"'),
            "repeated data": good[:-1] + b',"data":{}}',
            "no id": good.replace(b'"id":"ma-0193-0001",', b""),
            "specversion": good.replace(b'"specversion":"1.0"', b'"specversion":"0.3"'),
            "source not a string": good.replace(b'"source":"urn:dpihub:ma:node"', b'"source":5'),
            "subject not a string": good.replace(b'"subject":"mosip-id-repository"', b'"subject":[]'),
            "bad time": good.replace(b"2026-11-29T21:00:00.12Z", b"yesterday"),
            "data and data_base64": good[:-1] + b',"data_base64":"AA=="}',
            "not UTF-8": good.replace(b"ma-fix-1", b"ma-fix-\xff"),
            "lone surrogate": good.replace(b'"ma-0193-0001"', b'"\\ud800"'),
        }
        for about, body in cases.items():
            with self.subTest(about):
                self.check(body, "not-a-cloudevent")

    def test_unsigned(self):
        self.check(make_event(None), "unsigned")
        body = make_event(None)[:-1] + b',"dssematerial":""}'
        self.check(body, "unsigned")
        body = make_event(None)[:-1] + b',"dssematerial":null}'
        self.check(body, "unsigned")

    def test_bad_signature(self):
        flip = lambda s: s[:10] + bytes([s[10] ^ 0x40]) + s[11:]  # noqa: E731
        cases = {
            "signature": make_event(self.ma, sig_mutator=flip),
            "short signature": make_event(self.ma, sig_mutator=lambda s: s[:63]),
            "dssematerial not Base64": make_event(self.ma).replace(b'"dssematerial":"', b'"dssematerial":"*'),
            "dssematerial unpadded": self._unpadded(),
            "dssematerial not a string": make_event(None)[:-1] + b',"dssematerial":{"a":1}}',
            "envelope not UTF-8": make_event(self.ma, envelope_override=lambda e: b"\xff" + j(e).encode()),
            "envelope not JSON": make_event(self.ma, envelope_override=lambda e: b"{"),
            "envelope not an object": make_event(self.ma, envelope_override=lambda e: b"[]"),
            "payload type": make_event(self.ma, envelope_override=lambda e: {**e, "payloadType": "application/vnd.in-toto+json"}),
            "no payload": make_event(self.ma, envelope_override=lambda e: {k: v for k, v in e.items() if k != "payload"}),
            "payload not Base64": make_event(self.ma, envelope_override=lambda e: {**e, "payload": "%%%%"}),
            "no signatures": make_event(self.ma, envelope_override=lambda e: {**e, "signatures": []}),
            "no key id": make_event(self.ma, envelope_override=lambda e: {**e, "signatures": [{"sig": e["signatures"][0]["sig"]}]}),
            "payload not JSON": make_event(self.ma, payload_override=b"not json at all, 33 bytes or more"),
            "payload an array": make_event(self.ma, payload_override=b'["core","ext","signedextattrs",1]'),
            "payload of 31 bytes": make_event(self.ma, payload_override=b"\0" * 31),
            "core missing": make_event(self.ma, material=lambda c, e: {"ext": b64(e), "signedextattrs": ["country"]}),
            "core short": make_event(self.ma, material=lambda c, e: {"core": b64(c[:31]), "ext": b64(e), "signedextattrs": ["country"]}),
            "core not Base64": make_event(self.ma, material=lambda c, e: {"core": "?" * 44, "ext": b64(e), "signedextattrs": ["country"]}),
            "ext long": make_event(self.ma, material=lambda c, e: {"core": b64(c), "ext": b64(e + b"\0"), "signedextattrs": ["country"]}),
            "ext without names": make_event(self.ma, material=lambda c, e: {"core": b64(c), "ext": b64(e)}),
            "names without ext": make_event(self.ma, material=lambda c, e: {"core": b64(c), "signedextattrs": ["country"]}),
        }
        for about, body in cases.items():
            with self.subTest(about):
                self.check(body, "bad-signature")

    def _unpadded(self):
        body = make_event(self.ma)
        m = verify.parse_body(body).members["dssematerial"]
        if not m.endswith("="):
            return body.replace(m.encode(), m.encode()[:-1])
        return body.replace(m.encode(), m.rstrip("=").encode())

    def test_tampered(self):
        r = self.check(make_event(self.ma).replace(b"ma-fix-1", b"ma-fix-2"), "tampered-data")
        self.assertIn("data", r.detail)
        r = self.check(make_event(self.ma, after_sign=lambda a: a.update(subject="other-project")),
                       "tampered-attribute")
        self.assertIn("subject", r.detail)
        r = self.check(make_event(self.ma, after_sign=lambda a: a.update(country="lk")), "tampered-attribute")
        self.assertIn("country", r.detail)
        r = self.check(make_event(self.ma, after_sign=lambda a: a.update(time="2026-11-29T21:00:01Z")),
                       "tampered-attribute")
        self.assertIn("time", r.detail)
        self.check(make_event(self.ma, after_sign=lambda a: a.pop("country")), "tampered-attribute")
        self.check(make_event(self.ma, after_sign=lambda a: a.update(country=["ma"])), "tampered-attribute")
        # Re-encoding the data (other bytes, same JSON value) is tampering.
        self.check(make_event(self.ma).replace(b"\\u003c", b"<"), "tampered-data")
        # Changing an unsigned extension is not.
        self.check(make_event(self.ma, base_attrs(note="a"), after_sign=lambda a: a.update(note="b")), "verified")

    def test_tampered_without_authentic_digests(self):
        # Without dpihubdigests the part is unknown: tampered-attribute even for data.
        body = make_event(self.ma, with_digests=False).replace(b"ma-fix-1", b"ma-fix-2")
        self.check(body, "tampered-attribute", detail_has="unknown")
        # An altered dpihubdigests is not used.
        body = make_event(self.ma).replace(b"ma-fix-1", b"ma-fix-2")
        digests = verify.parse_body(body).members["dpihubdigests"]
        altered = b64(bytes(320))
        self.check(body.replace(digests.encode(), altered.encode()), "tampered-attribute", detail_has="unknown")

    def test_signedextattrs_rules(self):
        def names(lst):
            return lambda c, e: {"core": b64(c), "ext": b64(e), "signedextattrs": lst}
        cases = {
            "empty": names([]),
            "repeated": names(["country", "country"]),
            "core attribute": names(["country", "subject"]),
            "data": names(["country", "data"]),
            "dssematerial": names(["country", "dssematerial"]),
            "unknown extension": names(["country", "traceparent"]),
            "no country": names(["traceparent"]),
            "no extensions at all": lambda c, e: {"core": b64(c)},
        }
        for about, material in cases.items():
            with self.subTest(about):
                self.check(make_event(self.ma, material=material), "tampered-attribute")
        # Not a list of names at all: a corrupt payload, as dpihub reads it.
        for about, material in {"not an array": names("country"), "not strings": names(["country", 1])}.items():
            with self.subTest(about):
                self.check(make_event(self.ma, material=material), "bad-signature")

    def test_unknown_key(self):
        stranger = Key("ma")
        self.check(make_event(stranger), "unknown-key")
        # Before anything else: a stranger's broken payload is still unknown-key.
        self.check(make_event(stranger, payload_override=b"junk" * 10), "unknown-key")

    def test_first_trusted_signature_is_the_one(self):
        first = {"keyid": self.lk.keyid, "sig": b64(b"\0" * 64)}
        self.check(make_event(self.ma, extra_signatures=[first]), "key-of-other-country")
        first = {"keyid": self.ma.keyid, "sig": b64(b"\0" * 64)}
        self.check(make_event(self.ma, extra_signatures=[first]), "bad-signature")

    def test_other_country(self):
        self.check(make_event(self.lk), "key-of-other-country")
        self.check(make_event(self.hub), "key-of-other-country")
        self.check(make_event(self.ma, base_attrs(source="urn:dpihub:hub:registry", country="hub")),
                   "key-of-other-country")
        self.check(make_event(self.ma, base_attrs(source="https://example.org/ma")), "key-of-other-country")
        # A changed source with the signer's own key: the country check comes first.
        self.check(make_event(self.ma, after_sign=lambda a: a.update(source="urn:dpihub:lk:node")),
                   "key-of-other-country")

    def test_revoked(self):
        self.ma.entry["revoked"] = True
        self.check(make_event(self.ma), "key-revoked", trust=trust_of(self.ma))

    def test_window(self):
        early = make_event(self.ma, base_attrs(time="2025-12-31T23:57:00Z"), time_hashed="2025-12-31T23:57:00Z")
        self.check(early, "key-outside-validity", stored="2025-12-31T23:57:59.999999999Z")
        late = make_event(self.ma, base_attrs(time="2027-01-01T00:00:00Z"), time_hashed="2027-01-01T00:00:00Z")
        self.check(late, "key-outside-validity", stored="2027-01-01T00:02:00.000000001Z")

    def test_time_after_stored(self):
        self.check(make_event(self.ma), "key-outside-validity", stored="2026-11-29T20:58:00.119Z")

    def test_time_missing(self):
        self.check(make_event(self.ma, base_attrs(time=None)), "key-outside-validity")

    def test_claimed_time_does_not_extend_window(self):
        body = make_event(self.ma, base_attrs(time="2026-06-01T00:00:00Z"), time_hashed="2026-06-01T00:00:00Z")
        self.check(body, "key-outside-validity", stored="2027-06-01T00:00:00Z")


class TestCommandLine(Base):
    def run_main(self, *args, stdin: bytes | None = None):
        out, err = io.StringIO(), io.StringIO()
        old_stdin = sys.stdin
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = verify.main(list(args))
                except SystemExit as exc:
                    code = exc.code
        finally:
            sys.stdin = old_stdin
        return code, out.getvalue(), err.getvalue()

    def setUp(self):
        super().setUp()
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.trust_path = self.path("trust.json", json.dumps({"keys": [self.ma.entry, self.lk.entry]}).encode())

    def path(self, name, content: bytes) -> str:
        p = os.path.join(self.dir.name, name)
        with open(p, "wb") as f:
            f.write(content)
        return p

    def test_verified(self):
        f = self.path("a.json", make_event(self.ma))
        code, out, _ = self.run_main("--trust", self.trust_path, "--stored", STORED, f)
        self.assertEqual(code, 0)
        self.assertEqual(out, f"verified org.dpihub.fix.published.v1 ma-0193-0001 from urn:dpihub:ma:node "
                              f"(key {self.ma.keyid})\n")

    def test_json_lines_and_refused(self):
        lines = make_event(self.ma) + b"\n" + make_event(self.lk) + b"\n" + make_event(None) + b"\n"
        f = self.path("a.jsonl", lines)
        code, out, _ = self.run_main("--trust", self.trust_path, "--stored", STORED, f)
        self.assertEqual(code, 1)
        got = out.splitlines()
        self.assertEqual(len(got), 3)
        self.assertTrue(got[0].startswith("verified "))
        self.assertTrue(got[1].startswith("refused key-of-other-country: "))
        self.assertTrue(got[2].startswith("refused unsigned: "))

    def test_pretty_printed_single_body(self):
        body = make_event(self.ma)
        obj = verify.parse_body(body).members
        raw = verify.parse_body(body).data_raw.decode()
        pretty = "{\n" + ",\n".join(f"  {j(k)}: {j(v)}" for k, v in obj.items() if k != "data")
        pretty += ',\n  "data": ' + raw + "\n}\n"
        f = self.path("p.json", pretty.encode())
        code, out, _ = self.run_main("--trust", self.trust_path, "--stored", STORED, f)
        self.assertEqual((code, out[:9]), (0, "verified "))

    def test_stdin(self):
        code, out, _ = self.run_main("--trust", self.trust_path, "--stored", STORED, "-", stdin=make_event(self.ma))
        self.assertEqual(code, 0, out)

    def test_default_stored_is_now(self):
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        t = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.ma.entry.pop("not_before")
        self.ma.entry.pop("not_after")
        trust = self.path("t2.json", json.dumps({"keys": [self.ma.entry]}).encode())
        f = self.path("now.json", make_event(self.ma, base_attrs(time=t), time_hashed=t))
        self.assertEqual(self.run_main("--trust", trust, f)[0], 0)

    def test_usage_errors(self):
        f = self.path("a.json", make_event(self.ma))
        bad_trust = self.path("bad.json", json.dumps({"keys": [{**self.ma.entry, "keyid": "ma:0"}]}).encode())
        for args in [(f,), ("--trust", self.trust_path), ("--trust", bad_trust, f),
                     ("--trust", os.path.join(self.dir.name, "none.json"), f),
                     ("--trust", self.trust_path, "--stored", "yesterday", f),
                     ("--trust", self.trust_path, os.path.join(self.dir.name, "none.json"))]:
            with self.subTest(args):
                code, out, err = self.run_main(*args)
                self.assertEqual(code, 2)
                self.assertEqual(out, "")
                self.assertTrue(err.strip())

    def test_empty_file(self):
        f = self.path("empty.json", b"\n")
        code, out, _ = self.run_main("--trust", self.trust_path, f)
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith("refused not-a-cloudevent: "))


# ---------------------------------------------------------------------------
# Vectors signed by dpihub
# ---------------------------------------------------------------------------

class TestVectors(unittest.TestCase):
    """Every case of $DPIHUB_VECTORS (default ../vectors): fails if there are none."""

    def test_vectors(self):
        root = os.environ.get("DPIHUB_VECTORS") or os.path.join(HERE, "..", "vectors")
        root = os.path.abspath(root)
        self.assertTrue(os.path.isdir(root), f"no vector directory {root} (set DPIHUB_VECTORS)")
        cases_path = os.path.join(root, "cases.json")
        self.assertTrue(os.path.isfile(cases_path), f"no {cases_path}")
        with open(cases_path, "rb") as f:
            cases = json.load(f)
        self.assertIsInstance(cases, list, "cases.json is not a JSON array")
        self.assertTrue(cases, "cases.json holds no case")
        trust = verify.load_trust_list(os.path.join(root, "trust.json"))
        for case in cases:
            with self.subTest(file=case.get("file"), want=case.get("want"), about=case.get("about")):
                self.assertIn(case.get("want"), ("verified",) + verify.REASONS,
                              "the case wants a reason this verifier does not know")
                with open(os.path.join(root, case["file"]), "rb") as f:
                    body = f.read()
                r = verify.verify(body, trust, case.get("stored"))
                got = "verified" if r.ok else r.reason
                self.assertEqual(got, case["want"], f"{case.get('about')}: {r.line()}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
