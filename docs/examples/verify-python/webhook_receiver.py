#!/usr/bin/env python3
"""A maintainer's webhook receiver for dpihub's proposal events.

It answers the hub's handshake (the CloudEvents Web Hook specification's
OPTIONS request), and for every delivery checks both signatures before it
takes the event:

1. the subscription's HMAC, by the Standard Webhooks rules: the headers
   webhook-id, webhook-timestamp (within 5 minutes) and webhook-signature,
   "v1," + Base64(HMAC-SHA256(secret, id "." timestamp "." body)), where the
   secret is the whsec_... value the subscription printed once, kept in a
   file (until the file exists, deliveries are answered 503 and the hub
   retries them: start the receiver, subscribe, then write the secret);
2. the event's own signature, with verify.py and the hub's trust list
   (GET /trust.json), judged at the time of receipt.

It prints one line per delivery and answers 204, or 401/422 with the
reason. Repeated deliveries of one webhook-id are taken once.

    python3 webhook_receiver.py --secret-file secret --trust trust.json [--port 8099] &
    dpihub subscribe webhook --token-file maintainer.token \
        --project mosip-id-repository --url http://127.0.0.1:8099/dpihub \
        | grep -o 'whsec_[^ ]*' > secret

Standard library and verify.py (python3-cryptography) only. Port 0 picks a
free port; the first line printed says which.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import sys
import time

import verify

TOLERANCE_SECONDS = 300


def check_hmac(secret: str, headers, body: bytes, now: float) -> None:
    """Raise ValueError unless the Standard Webhooks signature holds."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not stamp or not sigs:
        raise ValueError("webhook-id, webhook-timestamp and webhook-signature are required")
    if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_SECONDS:
        raise ValueError(f"webhook-timestamp {stamp!r} is not within {TOLERANCE_SECONDS} s of now")
    if not secret.startswith("whsec_"):
        raise ValueError("the secret is the whsec_... value the subscription printed")
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, msg_id.encode() + b"." + stamp.encode() + b"." + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    if not any(hmac.compare_digest(want, s) for s in sigs.split()):
        raise ValueError("webhook-signature does not match: not from the hub, or altered")


def read_secret(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def handler(secret_file: str, trust, origin: str):
    seen: set[str] = set()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # one line per delivery is printed instead
            pass

        def do_OPTIONS(self):
            asked = self.headers.get("WebHook-Request-Origin", "")
            if origin not in ("*", asked):
                self.send_response(403)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("WebHook-Allowed-Origin", asked or origin)
            self.send_header("Allow", "POST, OPTIONS")
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            secret = read_secret(secret_file)
            if secret is None:
                return self.answer(503, "no secret yet: write the subscription's secret to the file")
            try:
                check_hmac(secret, self.headers, body, time.time())
            except ValueError as exc:
                return self.answer(401, f"refused delivery: {exc}")
            if self.headers["webhook-id"] in seen:
                return self.answer(204, f"repeat of {self.headers['webhook-id']}, already taken")
            result = verify.verify(body, trust)
            if not result.ok:
                return self.answer(422, f"refused event: {result.reason}: {result.detail}")
            seen.add(self.headers["webhook-id"])
            self.answer(204, "webhook " + result.line())

        def answer(self, status: int, line: str):
            print(line, flush=True)
            self.send_response(status)
            self.end_headers()

    return Receiver


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secret-file", required=True, help="file of the subscription's whsec_... secret")
    ap.add_argument("--trust", required=True, help="the hub's trust list (GET /trust.json)")
    ap.add_argument("--port", type=int, default=8099, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--origin", default="*", help="the hub origin to agree to in the handshake (default: any)")
    args = ap.parse_args(argv)
    try:
        trust = verify.load_trust_list(args.trust)
    except Exception as exc:  # a trust list that cannot be used: one line, exit 2
        print(f"webhook_receiver: {exc}", file=sys.stderr)
        return 2
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.secret_file, trust, args.origin))
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
