#!/usr/bin/env python3
"""Evaluates flags through a real OpenFeature client (openfeature-sdk + openfeature-provider-ofrep) against an
OFREP server, and checks the results.

Usage: python ofrep_client.py BASE_URL EXPECTATIONS.json   (EXPECTATIONS.json may be '-' for stdin)

BASE_URL is the server's root (the provider appends /ofrep/v1/evaluate/flags/KEY), e.g. http://127.0.0.1:8013.
Environment: OFREP_HEADERS - a JSON object of extra request headers, e.g. {"X-API-Key": "k1"};
             OFREP_TIMEOUT - request timeout in seconds (default 5).

EXPECTATIONS.json is a list of checks:
  {"flag": "new-checkout",            the flag key
   "type": "boolean",                 boolean | string | integer | float | object: which get_<type>_details to call
   "default": false,                  the caller's default value
   "targetingKey": "alice",           optional
   "attributes": {"role": "ADMIN"},   optional, sent as they are (any JSON types)
   "value": true,                     optional: the expected value
   "reason": "TARGETING_MATCH",       optional: the expected reason
   "variant": "testers",              optional: the expected variant (null: none)
   "errorCode": "FLAG_NOT_FOUND"}     optional: the expected error code; absent or null: no error expected
Values compare strictly: true is not 1, 50 equals 50.0 only for numbers, objects compare key by key.

Prints one JSON line per check (what the client got, and its mismatches), then exits 0 when every check passed,
1 naming each mismatch on stderr, 2 on bad usage or a malformed expectations file.
"""
import json
import math
import os
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

TYPES = ("boolean", "string", "integer", "float", "object")


def same(expected, got):
    """Strict JSON equality: booleans are not numbers, numbers compare by value, containers recursively."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(expected, got, rel_tol=1e-12, abs_tol=0.0) if (expected != got) else True
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(same(expected[k], got[k]) for k in expected)
    if isinstance(expected, list) and isinstance(got, (list, tuple)):
        return len(expected) == len(got) and all(same(e, g) for e, g in zip(expected, got))
    return type(expected) is type(got) and expected == got


def plain(value):
    """Mappings and sequences the SDK hands back, as plain JSON-serialisable values."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def enum_text(value):
    return None if value is None else str(getattr(value, "value", value))


def load(path):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    checks = json.loads(text)
    if not isinstance(checks, list):
        raise ValueError("the expectations must be a JSON list")
    for i, c in enumerate(checks):
        if not isinstance(c, dict) or not isinstance(c.get("flag"), str):
            raise ValueError(f"check {i}: needs a string 'flag'")
        if c.get("type") not in TYPES:
            raise ValueError(f"check {i} ({c['flag']}): 'type' must be one of {', '.join(TYPES)}")
        if "default" not in c:
            raise ValueError(f"check {i} ({c['flag']}): needs a 'default'")
        if not isinstance(c.get("attributes", {}), dict):
            raise ValueError(f"check {i} ({c['flag']}): 'attributes' must be an object")
    return checks


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, path = argv[1], argv[2]
    try:
        checks = load(path)
        headers = json.loads(os.environ.get("OFREP_HEADERS") or "{}")
        if not isinstance(headers, dict):
            raise ValueError("OFREP_HEADERS must be a JSON object")
        headers = {str(k): str(v) for k, v in headers.items()}
        timeout = float(os.environ.get("OFREP_TIMEOUT") or 5)
    except (OSError, ValueError) as e:
        print(f"ofrep_client: {e}", file=sys.stderr)
        return 2

    api.set_provider(OFREPProvider(base_url, headers_factory=(lambda: dict(headers)) if headers else None,
                                   timeout=timeout))
    client = api.get_client("ofrep-fixture")

    failures = []
    for i, c in enumerate(checks):
        context = EvaluationContext(targeting_key=c.get("targetingKey"), attributes=dict(c.get("attributes") or {}))
        details = getattr(client, f"get_{c['type']}_details")(c["flag"], c["default"], context)
        got = {
            "value": plain(details.value),
            "reason": enum_text(details.reason),
            "variant": details.variant,
            "errorCode": enum_text(details.error_code),
        }
        mismatches = []
        if "value" in c and not same(c["value"], got["value"]):
            mismatches.append(f"value {json.dumps(got['value'])} != expected {json.dumps(c['value'])}")
        for field in ("reason", "variant"):
            if field in c and c[field] != got[field]:
                mismatches.append(f"{field} {json.dumps(got[field])} != expected {json.dumps(c[field])}")
        if c.get("errorCode") != got["errorCode"]:
            mismatches.append(f"errorCode {json.dumps(got['errorCode'])} != expected {json.dumps(c.get('errorCode'))}"
                              + (f" ({details.error_message})" if details.error_message else ""))
        line = {"check": i, "flag": c["flag"], "type": c["type"], "ok": not mismatches, **got,
                "errorMessage": details.error_message, "flagMetadata": plain(details.flag_metadata or {}),
                "mismatches": mismatches}
        print(json.dumps(line, default=str), flush=True)
        failures += [f"check {i} ({c['flag']}, {c['type']}): {m}" for m in mismatches]

    api.shutdown()
    if failures:
        print(f"ofrep_client: {len(failures)} mismatch(es) in {len(checks)} check(s):", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print(f"ofrep_client: all {len(checks)} check(s) passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
