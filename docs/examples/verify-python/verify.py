#!/usr/bin/env python3
# An example verifier for dpihub's signed CloudEvents.
#
# Written from the documentation alone, as a test of it:
#   - docs/security.md, "What is signed, byte by byte" (sections 1-8),
#     "Keys and the trust list" and "What is refused, and why";
#   - the CloudEvents Verifiability extension as published:
#     cloudevents/spec, cloudevents/extensions/verifiability.md at commit
#     95514c459f87d064793172ed713326be26671221 (PR #1386).
# Section numbers in comments ("doc 1", "doc 7.3", ...) refer to the
# subsections of "What is signed, byte by byte" in docs/security.md.
#
# Python 3.11, standard library plus the `cryptography` package (Debian:
# python3-cryptography) for ed25519.
"""Verify dpihub's signed CloudEvents (structured mode, JSON).

Library use::

    import verify
    trust = verify.load_trust_list("trust.json")
    result = verify.verify(body_bytes, trust, stored="2026-11-29T21:00:01Z")
    if result.ok:
        use(result.event)          # core attributes, data, signed extensions
    else:
        print(result.reason, result.detail)

Command line::

    python3 verify.py --trust TRUST.json [--stored RFC3339] FILE...

Each FILE (``-`` for stdin) holds one structured-mode message body as it was
stored or delivered, or several bodies one per line (JSON lines). One line is
printed per event; the exit status is 0 if every event verified, 1 if any was
refused, 2 on a usage error or a trust list that cannot be used.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime as _dt
import decimal
import hashlib
import json
import os
import re
import sys
from fractions import Fraction
from json.decoder import scanstring as _scanstring
from typing import Any, Iterator, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "PAYLOAD_TYPE",
    "CLOCK_SKEW_SECONDS",
    "REASONS",
    "Result",
    "TrustedKey",
    "TrustList",
    "TrustListError",
    "load_trust_list",
    "derive_keyid",
    "verify",
    "pae",
    "canonical_time",
    "legacy_time",
    "parse_time",
    "b64decode",
    "parse_body",
    "main",
]

#: DSSE payload type of the published extension (doc 4).
PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1"

#: The clock-skew allowance, both ways (``sign.ClockSkew``, "Keys and the trust list").
CLOCK_SKEW_SECONDS = 120

#: Core context attributes in digest order (doc 1, parts 1-8); part 9 is data.
CORE_ATTRIBUTES = ("id", "source", "specversion", "type", "datacontenttype",
                   "dataschema", "subject", "time")
CORE_PARTS = CORE_ATTRIBUTES + ("data",)

#: Names ``signedextattrs`` may never hold (doc 3; ``data`` is dpihub's addition).
FORBIDDEN_SIGNED_NAMES = frozenset(CORE_ATTRIBUTES) | {"data", "dssematerial"}

#: The extensions this verifier knows the CloudEvents type of (doc 2). dpihub
#: signs ``country`` (String) and nothing else.
KNOWN_EXTENSIONS = {"country": "String"}
REQUIRED_EXTENSIONS = ("country",)

#: Reasons this verifier reports: dpihub's names ("What is refused, and why")
#: that a signature check can give, plus not-a-cloudevent.
REASONS = (
    "not-a-cloudevent",
    "unsigned",
    "bad-signature",
    "tampered-data",
    "tampered-attribute",
    "unknown-key",
    "key-outside-validity",
    "key-revoked",
    "key-of-other-country",
)

#: Media types whose data the CloudEvents JSON format carries as JSON, by the
#: rule of the Go SDK that writes dpihub's events: exact, case-sensitive.
_JSON_CONTENT_TYPES = ("application/json", "text/json", "application/cloudevents+json",
                       "application/cloudevents-batch+json")
_EMPTY_SHA256 = hashlib.sha256(b"").digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --------------------------------------------------------------------------
# Results and refusals
# --------------------------------------------------------------------------

class Refused(Exception):
    """Raised inside the verifier; turned into a refused :class:`Result`."""

    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Result:
    """The outcome of :func:`verify`.

    ``ok`` is True for a verified event; then ``event`` holds its core
    attributes, its data (``data`` or ``data_base64`` as in the message) and
    the signed extensions only (the extension's ``strict`` mode), and
    ``keyid`` the key that signed it. Otherwise ``reason`` is one of
    :data:`REASONS` and ``detail`` says why; ``keyid`` is set once a trusted
    key was chosen.
    """

    ok: bool
    reason: str | None = None
    detail: str = ""
    keyid: str | None = None
    event: dict[str, Any] | None = None
    legacy: bool = False

    def line(self) -> str:
        """The one-line report the command prints for this event."""
        if self.ok:
            ev = self.event or {}
            return (f"verified {_printable(ev.get('type'))} {_printable(ev.get('id'))}"
                    f" from {_printable(ev.get('source'))} (key {_printable(self.keyid)})")
        return f"refused {self.reason}: {_printable(self.detail)}"


def _printable(value: Any) -> str:
    """Render a value for a one-line report, escaping control characters."""
    text = value if isinstance(value, str) else str(value)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


# --------------------------------------------------------------------------
# Base64 (doc 4, "Base64, everywhere")
# --------------------------------------------------------------------------

_B64_STD = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_B64_URL = re.compile(rb"[A-Za-z0-9_-]*={0,2}")


def b64decode(text: Any) -> bytes:
    """Decode padded Base64: the standard alphabet and, failing that, the URL-safe one.

    Line breaks (CR, LF) are ignored, as dpihub's decoder ignores them.
    Raises ValueError for anything else (wrong type, missing padding, other
    characters).
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    text = text.replace("\r", "").replace("\n", "")  # as dpihub's decoder (Go's) ignores them
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("not Base64 (non-ASCII character)") from None
    if len(raw) % 4:
        raise ValueError("not padded Base64 (length is not a multiple of 4)")
    try:
        if _B64_STD.fullmatch(raw):
            return base64.b64decode(raw, validate=True)
        if _B64_URL.fullmatch(raw):
            return base64.urlsafe_b64decode(raw)
    except binascii.Error as exc:
        raise ValueError(f"not Base64 ({exc})") from None
    raise ValueError("not Base64 (character outside both alphabets)")


# --------------------------------------------------------------------------
# Time (doc 1, part 8; doc 8)
# --------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})?")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Instant:
    """A parsed RFC 3339 time: the whole second in UTC and the fraction digits as written."""

    whole: _dt.datetime  # aware, UTC, microsecond == 0
    fraction: str        # decimal digits after the '.', possibly '' (any length)

    @property
    def exact(self) -> Fraction:
        """Seconds since the Unix epoch, exactly (any number of fraction digits)."""
        seconds = (self.whole - _EPOCH) // _dt.timedelta(seconds=1)
        if self.fraction:
            return seconds + Fraction(int(self.fraction), 10 ** len(self.fraction))
        return Fraction(seconds)

    def __str__(self) -> str:
        return legacy_time_of(self)


def parse_time(text: str) -> Instant:
    """Parse an RFC 3339 time: a fraction of any length, ``Z`` or any ``±HH:MM``
    offset, none meaning UTC (doc 1, "Time"). Raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("time is not a string")
    m = _RFC3339.fullmatch(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7) or "", m.group(8)
    try:
        local = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
        if offset and offset not in ("Z", "z"):
            oh, om = int(offset[1:3]), int(offset[4:6])
            if oh > 23 or om > 59:
                raise ValueError("offset out of range")
            delta = _dt.timedelta(hours=oh, minutes=om)
            local = local - delta if offset[0] == "+" else local + delta
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not an RFC 3339 time: {text!r} ({exc})") from None
    return Instant(local, fraction)


def _format_whole(t: _dt.datetime) -> str:
    if not 1 <= t.year <= 9999:
        raise ValueError("year out of range")
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
            f"T{t.hour:02d}:{t.minute:02d}:{t.second:02d}")


def canonical_time(text: str) -> str:
    """The ``time`` as hashed (doc 1, part 8): UTC, fraction cut, 20 characters.

    >>> canonical_time("2020-06-18T19:24:53+02:00")
    '2020-06-18T17:24:53Z'
    """
    return _format_whole(parse_time(text).whole) + "Z"


def legacy_time_of(instant: Instant) -> str:
    fraction = instant.fraction[:9].rstrip("0")
    return _format_whole(instant.whole) + ("." + fraction if fraction else "") + "Z"


def legacy_time(text: str) -> str:
    """The ``time`` as the legacy format hashed it (doc 8): UTC, the fraction as
    Go's RFC3339Nano writes it (at most nine digits, trailing zeros dropped)."""
    return legacy_time_of(parse_time(text))


def _to_exact(value: Any) -> Fraction:
    """A stored time (datetime, RFC 3339 string, Instant or epoch seconds) as exact seconds."""
    if value is None:
        value = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, Instant):
        return value.exact
    if isinstance(value, str):
        return parse_time(value).exact
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        delta = value - _EPOCH
        return Fraction(delta // _dt.timedelta(seconds=1)) + Fraction(delta.microseconds, 10 ** 6)
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    raise TypeError(f"stored time of unsupported type {type(value).__name__}")


def _fmt_exact(seconds: Fraction) -> str:
    whole = int(seconds // 1)
    t = _EPOCH + _dt.timedelta(seconds=whole)
    frac = seconds - whole
    text = _format_whole(t)
    if frac:
        digits = str(int(frac * 10 ** 9)).rjust(9, "0").rstrip("0")
        text += "." + (digits or "0")
    return text + "Z"


# --------------------------------------------------------------------------
# DSSE (doc 4)
# --------------------------------------------------------------------------

def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding:
    ``"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload``."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# --------------------------------------------------------------------------
# Reading the body (doc "The message", doc 1 part 9)
# --------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:  # more digits than int() takes by default
        return decimal.Decimal(text)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)
_WS = " \t\n\r"


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


@dataclasses.dataclass
class ParsedBody:
    """A structured-mode body: its top-level members and the raw bytes of ``data``."""

    members: dict[str, Any]
    data_raw: bytes | None  # the exact bytes of the data member's value, if any


def parse_body(body: bytes) -> ParsedBody:
    """Parse one structured-mode body, keeping the exact bytes of ``data``.

    Refuses (``not-a-cloudevent``) a body that is not UTF-8, not one JSON
    object, or that repeats a top-level member name. The ``data`` value's
    bytes are cut from the body itself, from its first byte to its last:
    the text is decoded from UTF-8, the member's span found by the JSON
    scanner, and the slice encoded back, which gives the original bytes
    since strict UTF-8 decoding is one-to-one.
    """
    if isinstance(body, str):
        raise TypeError("body must be bytes, as stored or delivered")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("not-a-cloudevent", f"body is not UTF-8 (byte {exc.start})") from None
    members: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    n = len(text)
    try:
        i = _skip_ws(text, 0)
        if i >= n or text[i] != "{":
            raise Refused("not-a-cloudevent", "body is not a JSON object")
        i = _skip_ws(text, i + 1)
        if i < n and text[i] == "}":
            i += 1
        else:
            while True:
                if i >= n or text[i] != '"':
                    raise ValueError(f"expected a member name at character {i}")
                name, i = _scanstring(text, i + 1, True)
                if name in members:
                    raise Refused("not-a-cloudevent", f"top-level member {name!r} appears twice")
                i = _skip_ws(text, i)
                if i >= n or text[i] != ":":
                    raise ValueError(f"expected ':' at character {i}")
                i = _skip_ws(text, i + 1)
                value, end = _DECODER.raw_decode(text, i)
                members[name] = value
                spans[name] = (i, end)
                i = _skip_ws(text, end)
                if i < n and text[i] == ",":
                    i = _skip_ws(text, i + 1)
                    continue
                if i < n and text[i] == "}":
                    i += 1
                    break
                raise ValueError(f"expected ',' or '}}' at character {i}")
        if _skip_ws(text, i) != n:
            raise ValueError(f"extra data after the object at character {i}")
    except Refused:
        raise
    except (ValueError, RecursionError) as exc:
        raise Refused("not-a-cloudevent", f"body is not a JSON object ({exc})") from None
    data_raw = None
    if "data" in spans:
        start, end = spans["data"]
        data_raw = text[start:end].encode("utf-8")
    return ParsedBody(members, data_raw)


def _is_json_content_type(ct: str | None) -> bool:
    if not ct:
        return True
    return ct.split(";", 1)[0].strip() in _JSON_CONTENT_TYPES


@dataclasses.dataclass
class _Event:
    members: dict[str, Any]
    data_bytes: bytes     # part 9 (doc 1, "Data")
    time: Instant | None  # parsed `time`, None when absent


def _check_unicode(name: str, value: Any) -> None:
    """Strings must be encodable: a JSON escape of a lone surrogate is no character."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("not-a-cloudevent", f"{name} holds an unpaired surrogate") from None


def _read_event(body: bytes) -> _Event:
    """Doc 7.1: read the body, check it is a CloudEvent, cut out the data bytes."""
    parsed = parse_body(body)
    m = parsed.members
    if m.get("specversion") != "1.0":
        raise Refused("not-a-cloudevent", f"specversion is {m.get('specversion')!r}, not '1.0'")
    for name in ("id", "source", "type"):
        if not isinstance(m.get(name), str) or not m[name]:
            raise Refused("not-a-cloudevent", f"required attribute {name} is missing or not a non-empty string")
    for name in ("datacontenttype", "dataschema", "subject", "time"):
        if m.get(name) is not None and not isinstance(m[name], str):
            raise Refused("not-a-cloudevent", f"attribute {name} is not a string")
    for name, value in m.items():
        if name != "data":
            _check_unicode(name, value)
    time = None
    if m.get("time"):
        try:
            time = parse_time(m["time"])
            _format_whole(time.whole)
        except ValueError as exc:
            raise Refused("not-a-cloudevent", f"time: {exc}") from None
    has_data = "data" in m  # "data": null is the four bytes null, as dpihub reads it
    has_b64 = m.get("data_base64") is not None
    if has_data and has_b64:
        raise Refused("not-a-cloudevent", "both data and data_base64 are present")
    if has_b64:
        try:
            data_bytes = b64decode(m["data_base64"])
        except ValueError as exc:
            raise Refused("not-a-cloudevent", f"data_base64: {exc}") from None
    elif has_data:
        value = m["data"]
        if isinstance(value, str) and not _is_json_content_type(m.get("datacontenttype")):
            try:
                data_bytes = value.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused("not-a-cloudevent", "data holds an unpaired surrogate") from None
        else:
            assert parsed.data_raw is not None
            data_bytes = parsed.data_raw
    else:
        data_bytes = b""  # no data
    return _Event(m, data_bytes, time)


# --------------------------------------------------------------------------
# Digests (doc 1, 2, 8)
# --------------------------------------------------------------------------

def _attr_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if value else b""


def core_digests(event: _Event, legacy: bool = False) -> list[bytes]:
    """The nine core digests (doc 1), ``time`` as doc 8 says for the legacy format."""
    m = event.members
    out = [_sha256(_attr_bytes(m.get(name))) for name in CORE_ATTRIBUTES[:7]]
    if event.time is None:
        out.append(_EMPTY_SHA256)
    else:
        t = legacy_time_of(event.time) if legacy else _format_whole(event.time.whole) + "Z"
        out.append(_sha256(t.encode("ascii")))
    out.append(_sha256(event.data_bytes))
    return out


def _extension_value_bytes(members: Mapping[str, Any], name: str) -> bytes:
    """Canonical Value Serialization of a signed extension (doc 2); absent is empty."""
    value = members.get(name)
    if value is None:
        return b""
    kind = KNOWN_EXTENSIONS.get(name)
    if kind == "String":
        if not isinstance(value, str):
            raise Refused("tampered-attribute", f"extension {name} is not a String")
        return value.encode("utf-8")
    raise Refused("tampered-attribute", f"extension {name} is of a type this verifier does not know")


def _check_signed_names(names: Any, where: str) -> list[str]:
    """The rules on ``signedextattrs`` (doc 3, doc 2 **dpihub**): tampered-attribute."""
    if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
        raise Refused("tampered-attribute", f"{where} is not an array of strings")
    if not names:
        raise Refused("tampered-attribute", f"{where} is empty")
    seen = set()
    for name in names:
        if name in seen:
            raise Refused("tampered-attribute", f"{where} repeats {name!r}")
        seen.add(name)
        if name in FORBIDDEN_SIGNED_NAMES:
            raise Refused("tampered-attribute", f"{where} names {name!r}, which may not be signed as an extension")
        if name not in KNOWN_EXTENSIONS:
            raise Refused("tampered-attribute", f"{where} covers extension {name!r}, whose type is unknown")
    for name in REQUIRED_EXTENSIONS:
        if name not in seen:
            raise Refused("tampered-attribute", f"{where} does not cover {name!r}")
    return list(names)


def _name_changes(signed: list[bytes], received: list[bytes], labels: list[str]) -> Refused:
    """Doc 5: name the part(s) that differ between an authentic digest list and the event's."""
    changed = [label for s, r, label in zip(signed, received, labels) if s != r]
    if len(signed) != len(received):
        changed.append("the list of signed extensions")
    if not changed:
        return Refused("tampered-attribute", "digest mismatch (part unknown)")
    first = changed[0]
    detail = "changed: " + ", ".join(changed)
    if first == "data":
        return Refused("tampered-data", f"the data is not what was signed ({detail})")
    return Refused("tampered-attribute", f"{first} is not what was signed ({detail})")


def _dpihubdigests(members: Mapping[str, Any]) -> bytes | None:
    try:
        return b64decode(members.get("dpihubdigests"))
    except ValueError:
        return None


def _split32(data: bytes) -> list[bytes] | None:
    if len(data) % 32:
        return None
    return [data[i:i + 32] for i in range(0, len(data), 32)]


# --------------------------------------------------------------------------
# Trust list (doc 6, "Keys and the trust list")
# --------------------------------------------------------------------------

class TrustListError(ValueError):
    """The trust list is unreadable or breaks a rule; the whole list is refused."""


_COUNTRY = re.compile(r"[a-z]{2}|hub")


def derive_keyid(country: str, public_key: bytes) -> str:
    """``<country>:`` + the first 16 lowercase hex digits of SHA-256 of the raw key."""
    return f"{country}:{hashlib.sha256(public_key).hexdigest()[:16]}"


@dataclasses.dataclass(frozen=True)
class TrustedKey:
    """One entry of the trust list."""

    country: str
    keyid: str
    public_key: bytes
    not_before: Instant | None = None
    not_after: Instant | None = None
    revoked: bool = False
    comment: str = ""

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


class TrustList:
    """Trusted keys by key id. Build it with :func:`load_trust_list`."""

    def __init__(self, keys: list[TrustedKey]):
        self._keys: dict[str, TrustedKey] = {}
        self._verifiers: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            self._keys[key.keyid] = key
            self._verifiers[key.keyid] = key.verifier()

    def get(self, keyid: str) -> TrustedKey | None:
        return self._keys.get(keyid)

    def verifier(self, keyid: str) -> Ed25519PublicKey:
        return self._verifiers[keyid]

    def __contains__(self, keyid: object) -> bool:
        return keyid in self._keys

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"member {name!r} appears twice")
        out[name] = value
    return out


def _loads_strict(data: bytes) -> Any:
    """JSON from UTF-8 bytes: no repeated member names, no NaN/Infinity."""
    return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                      parse_constant=_reject_constant, parse_int=_parse_int)


def load_trust_list(source: str | os.PathLike | bytes | bytearray) -> TrustList:
    """Load and validate a trust list from a path or from its bytes.

    Refuses the whole list (:class:`TrustListError`) unless every entry has a
    country code (two lowercase letters, or ``hub``), a ``public_key`` that is
    Base64 of 32 bytes and a usable ed25519 key, and a ``keyid`` equal to
    :func:`derive_keyid` of both; key ids and public keys are unique;
    ``not_before``/``not_after`` are RFC 3339 times if present and do not make
    an empty window; ``revoked`` is a boolean and ``comment`` a string if present.
    """
    if isinstance(source, (bytes, bytearray)):
        raw, name = bytes(source), "trust list"
    else:
        name = os.fspath(source)
        try:
            with open(name, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise TrustListError(f"{name}: {exc.strerror or exc}") from None
    try:
        doc = _loads_strict(raw)
    except (ValueError, RecursionError) as exc:
        raise TrustListError(f"{name}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise TrustListError(f'{name}: not an object with a "keys" array')
    keys: list[TrustedKey] = []
    seen_ids: set[str] = set()
    seen_keys: dict[bytes, str] = {}
    for n, entry in enumerate(doc["keys"]):
        where = f"{name}: keys[{n}]"
        if not isinstance(entry, dict):
            raise TrustListError(f"{where}: not an object")
        country, keyid = entry.get("country"), entry.get("keyid")
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
            raise TrustListError(f"{where}: country {country!r} is not a country code")
        try:
            pub = b64decode(entry.get("public_key"))
        except ValueError as exc:
            raise TrustListError(f"{where}: public_key: {exc}") from None
        if len(pub) != 32:
            raise TrustListError(f"{where}: public_key is {len(pub)} bytes, not 32")
        want = derive_keyid(country, pub)
        if keyid != want:
            raise TrustListError(f"{where}: keyid {keyid!r} does not match its key and country (want {want!r})")
        if keyid in seen_ids:
            raise TrustListError(f"{where}: key id {keyid} appears twice")
        if pub in seen_keys:
            raise TrustListError(f"{where}: the public key of {keyid} is also listed as {seen_keys[pub]}")
        seen_ids.add(keyid)
        seen_keys[pub] = keyid
        window = {}
        for bound in ("not_before", "not_after"):
            value = entry.get(bound)
            if value is None:
                window[bound] = None
                continue
            try:
                window[bound] = parse_time(value)
            except ValueError as exc:
                raise TrustListError(f"{where}: {bound}: {exc}") from None
        if window["not_before"] and window["not_after"] and \
                window["not_after"].exact <= window["not_before"].exact:
            raise TrustListError(f"{where}: empty window (not_after is not after not_before)")
        revoked = entry.get("revoked")
        if revoked is not None and not isinstance(revoked, bool):
            raise TrustListError(f"{where}: revoked is not a boolean")
        comment = entry.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise TrustListError(f"{where}: comment is not a string")
        key = TrustedKey(country, keyid, pub, window["not_before"], window["not_after"],
                         bool(revoked), comment or "")
        try:
            key.verifier()
        except ValueError as exc:
            raise TrustListError(f"{where}: public_key is not an ed25519 key ({exc})") from None
        keys.append(key)
    return TrustList(keys)


def source_country(source: str) -> str | None:
    """The country of ``urn:dpihub:<country>:<service>``, or None for another form."""
    parts = source.split(":", 3)
    if len(parts) == 4 and parts[0] == "urn" and parts[1] == "dpihub" and parts[2] and parts[3]:
        return parts[2]
    return None


# --------------------------------------------------------------------------
# Verification (doc 7)
# --------------------------------------------------------------------------

def verify(body: bytes, trust: TrustList, stored: Any = None) -> Result:
    """Verify one structured-mode body against ``trust``.

    ``stored`` is when the hub stored the event (the JetStream timestamp):
    an aware ``datetime`` (naive means UTC), an RFC 3339 string, or None for
    now. Key windows are judged at that time, never at the time the event
    claims. Never raises for a bad event: the outcome is in the Result.
    """
    stored_at = _to_exact(stored)
    keyid = None
    try:
        event = _read_event(body)  # 7.1
        m = event.members

        # 7.2: the envelope.
        material = m.get("dssematerial")
        if material is None or material == "":
            raise Refused("unsigned", "no dssematerial")
        try:
            envelope_bytes = b64decode(material)
        except ValueError as exc:
            raise Refused("bad-signature", f"dssematerial: {exc}") from None
        try:
            envelope_text = envelope_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("bad-signature", "dssematerial is not UTF-8") from None
        try:
            envelope = _loads_strict(envelope_text.encode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise Refused("bad-signature", f"dssematerial is not a DSSE envelope ({exc})") from None
        if not isinstance(envelope, dict):
            raise Refused("bad-signature", "dssematerial is not a DSSE envelope")
        if envelope.get("payloadType") != PAYLOAD_TYPE:
            raise Refused("bad-signature", f"payload type {envelope.get('payloadType')!r} is not {PAYLOAD_TYPE}")
        if not isinstance(envelope.get("payload"), str):
            raise Refused("bad-signature", "the envelope has no payload")
        signatures = envelope.get("signatures")
        if not isinstance(signatures, list):
            raise Refused("bad-signature", "the envelope has no signatures")
        candidates = [s for s in signatures
                      if isinstance(s, dict) and isinstance(s.get("keyid"), str) and s["keyid"]]
        if not candidates:
            raise Refused("bad-signature", "no signature with a key id")

        # 7.3: the key.
        chosen = next((s for s in candidates if s["keyid"] in trust), None)
        if chosen is None:
            ids = ", ".join(_printable(s["keyid"]) for s in candidates)
            raise Refused("unknown-key", f"key id {ids} is not in the trust list")
        keyid = chosen["keyid"]
        key = trust.get(keyid)
        assert key is not None
        country = source_country(m["source"])
        if country != key.country:
            raise Refused("key-of-other-country",
                          f"key {keyid} is {key.country}'s; the source {m['source']} is "
                          + (f"{country}'s" if country else "not urn:dpihub:<country>:<service>"))
        if key.revoked:
            raise Refused("key-revoked", f"key {keyid} is revoked")
        skew = CLOCK_SKEW_SECONDS
        if key.not_before is not None and stored_at < key.not_before.exact - skew:
            raise Refused("key-outside-validity",
                          f"stored {_fmt_exact(stored_at)}, more than {skew} s before key {keyid}'s "
                          f"not_before {key.not_before}")
        if key.not_after is not None and stored_at > key.not_after.exact + skew:
            raise Refused("key-outside-validity",
                          f"stored {_fmt_exact(stored_at)}, more than {skew} s after key {keyid}'s "
                          f"not_after {key.not_after}")
        if event.time is None:
            raise Refused("key-outside-validity", "the event has no time")
        if event.time.exact > stored_at + skew:
            raise Refused("key-outside-validity",
                          f"time {event.time} is more than {skew} s after it was stored ({_fmt_exact(stored_at)})")

        # 7.4: the signature, over PAE of the payload as decoded from the envelope.
        try:
            payload = b64decode(envelope["payload"])
        except ValueError as exc:
            raise Refused("bad-signature", f"payload: {exc}") from None
        try:
            sig = b64decode(chosen.get("sig"))
        except ValueError as exc:
            raise Refused("bad-signature", f"sig: {exc}") from None
        if len(sig) != 64:
            raise Refused("bad-signature", f"the signature is {len(sig)} bytes, not 64")
        try:
            trust.verifier(keyid).verify(sig, pae(PAYLOAD_TYPE, payload))
        except InvalidSignature:
            raise Refused("bad-signature", f"the signature does not verify with key {keyid}") from None

        # 7.5 and 7.6
        if len(payload) == 32:
            names = _check_legacy(event, payload)
            legacy = True
        else:
            names = _check_published(event, payload)
            legacy = False
    except Refused as r:
        return Result(False, r.reason, r.detail, keyid)

    # 7.7: core attributes, data, signed extensions only.
    out = {k: m[k] for k in CORE_ATTRIBUTES if m.get(k) is not None}
    for k in ("data", "data_base64"):
        if m.get(k) is not None:
            out[k] = m[k]
    for k in names:
        if m.get(k) is not None:
            out[k] = m[k]
    return Result(True, None, "", keyid, out, legacy)


def _check_published(event: _Event, payload: bytes) -> list[str]:
    """Doc 3, 5, 7.5-7.6 for the published format. Returns the signed extension names."""
    try:
        material = _loads_strict(payload)
    except (ValueError, RecursionError) as exc:
        raise Refused("bad-signature", f"the payload is neither verification material nor a legacy digest ({exc})") from None
    if not isinstance(material, dict):
        raise Refused("bad-signature", "the payload is not a JSON object")
    try:
        core = b64decode(material.get("core"))
    except ValueError as exc:
        raise Refused("bad-signature", f"payload core: {exc}") from None
    if len(core) != 32:
        raise Refused("bad-signature", f"payload core is {len(core)} bytes, not 32")
    has_ext = material.get("ext") is not None
    has_names = material.get("signedextattrs") is not None
    if has_ext != has_names:
        raise Refused("bad-signature", "payload has one of ext and signedextattrs without the other")
    ext = None
    if has_ext:
        try:
            ext = b64decode(material["ext"])
        except ValueError as exc:
            raise Refused("bad-signature", f"payload ext: {exc}") from None
        if len(ext) != 32:
            raise Refused("bad-signature", f"payload ext is {len(ext)} bytes, not 32")
    if not has_names:
        raise Refused("tampered-attribute", "the signature covers no extension; it must cover 'country'")
    if not isinstance(material["signedextattrs"], list) or \
            not all(isinstance(n, str) for n in material["signedextattrs"]):
        raise Refused("bad-signature", "payload signedextattrs is not an array of strings")
    names = _check_signed_names(material["signedextattrs"], "signedextattrs")
    assert ext is not None

    core_list = core_digests(event)
    ext_list = [_sha256(_extension_value_bytes(event.members, name)) for name in names]
    if _sha256(b"".join(core_list)) == core and _sha256(b"".join(ext_list)) == ext:
        return names

    signed = _dpihubdigests(event.members)
    if signed is not None and len(signed) >= 288 and _sha256(signed[:288]) == core \
            and _sha256(signed[288:]) == ext:
        signed_list = _split32(signed)
        if signed_list is not None:
            raise _name_changes(signed_list, core_list + ext_list, list(CORE_PARTS) + names)
    which = "core" if _sha256(b"".join(core_list)) != core else "extension (" + ", ".join(names) + ")"
    raise Refused("tampered-attribute", f"the {which} digest does not match; part unknown (no authentic dpihubdigests)")


def _check_legacy(event: _Event, payload: bytes) -> list[str]:
    """Doc 8: the legacy format, a 32-byte payload. Returns the signed extension names."""
    attr = event.members.get("signedextattrs")
    if attr is None or attr == "":
        names: Any = []
    elif isinstance(attr, str):
        names = attr.split(",")
    else:
        raise Refused("tampered-attribute", "signedextattrs attribute is not a string")
    if not names:
        raise Refused("tampered-attribute", "the signature covers no extension; it must cover 'country'")
    names = _check_signed_names(names, "signedextattrs attribute")
    received = core_digests(event, legacy=True)
    labels = list(CORE_PARTS)
    for name in names:
        received += [_sha256(name.encode("utf-8")),
                     _sha256(_extension_value_bytes(event.members, name))]
        labels += [f"the name of extension {name}", name]
    if _sha256(b"".join(received)) == payload:
        return names
    signed = _dpihubdigests(event.members)
    if signed is not None and _sha256(signed) == payload:
        signed_list = _split32(signed)
        if signed_list is not None:
            raise _name_changes(signed_list, received, labels)
    raise Refused("tampered-attribute", "the digest does not match (legacy format); part unknown (no authentic dpihubdigests)")


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def split_bodies(blob: bytes) -> list[bytes]:
    """One body, or several one per line (JSON lines, as ``nats sub --raw`` prints)."""
    if not blob.strip(b" \t\r\n"):
        return []
    try:
        json.loads(blob.decode("utf-8"))
        return [blob]  # one JSON value, however it is laid out
    except (ValueError, RecursionError):
        pass
    lines = [line for line in blob.split(b"\n") if line.strip(b" \t\r")]
    return lines if len(lines) > 1 else [blob]


def main(argv: list[str] | None = None) -> int:
    """The command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="Verify dpihub's signed CloudEvents (structured-mode JSON bodies), "
                    "following docs/security.md.")
    parser.add_argument("--trust", required=True, metavar="TRUST.json", help="the trust list")
    parser.add_argument("--stored", metavar="RFC3339",
                        help="when the hub stored the event(s) (JetStream time); default: now")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="message body, or several one per line; '-' for stdin")
    args = parser.parse_args(argv)
    try:
        stored = parse_time(args.stored) if args.stored is not None else None
    except ValueError as exc:
        parser.error(f"--stored: {exc}")
    try:
        trust = load_trust_list(args.trust)
    except TrustListError as exc:
        print(f"verify.py: unusable trust list: {exc}", file=sys.stderr)
        return 2
    inputs: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            if name == "-":
                inputs.append(("<stdin>", sys.stdin.buffer.read()))
            else:
                with open(name, "rb") as f:
                    inputs.append((name, f.read()))
        except OSError as exc:
            print(f"verify.py: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    all_ok = True
    for name, blob in inputs:
        bodies = split_bodies(blob)
        if not bodies:
            print(Result(False, "not-a-cloudevent", f"{name} holds no message body").line())
            all_ok = False
        for body in bodies:
            result = verify(body, trust, stored)
            all_ok &= result.ok
            print(result.line())
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
