#!/usr/bin/env python3
"""Reference evaluations of flagd flag definitions, for checking the Swift evaluator.

Usage: python flagd_reference.py DEFINITIONS.json COUNT SEED

Needs openfeature-flagd-core 2.0.0 (and its deps panzi-json-logic, mmh3, cbor2, semver,
openfeature-sdk). Generates COUNT random evaluation contexts (deterministic for a given SEED
and Python version) and prints, for every context and every flag of DEFINITIONS.json (in file
order), one JSON line:

  {"flag": key, "context": {...}, "value": ..., "variant": ..., "reason": ..., "errorCode": ...}

- context is the OFREP-style context: "targetingKey" (when present) is passed as the
  EvaluationContext targeting key, every other entry as an attribute.
- The resolve_* method is chosen from the flag's variant values: all bool -> boolean,
  all str -> string, all int -> integer, numbers with a float -> float (ints are returned
  as floats, e.g. 0 -> 0.0), dict/list -> object.
- When flagd-core falls back to the *caller's* default (reason DISABLED, reason DEFAULT
  without a default variant, reason ERROR) "value" and "variant" are null.
- Errors mirror the OpenFeature SDK: an OpenFeatureError gives its error code, any other
  exception (ZeroDivisionError, TypeError, ...) gives GENERAL; reason is then ERROR.
"""
import contextlib
import io
import json
import logging
import random
import sys

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import OpenFeatureError

logging.disable(logging.CRITICAL)

_MISSING = object()


def flag_type(variants):
    values = list(variants.values())
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return "object"


CALLER_DEFAULTS = {"boolean": False, "string": "", "integer": 0, "float": 0.0, "object": {}}


# --- random contexts -------------------------------------------------------------------

TARGETING_KEYS_EDGE = ["", "пользователь-1", "ユーザー", "e\u0301", "é", "user 1", "🙂", "0", "null",
                       42, 3.5, True, None, ["user-1"], {"id": "u"}]
EMAILS = ["alice@example.com", "bob@salespot.by", "admin@salespot.by", "admin.ops@example.org",
          "carol@example.net", "dave@gmail.com", "admin@example.com", "ADMIN@x.io",
          "eve@salespot.by.evil.com", "frank@Salespot.by", "grace@salespot.by"]
EMAILS_EDGE = ["", "ü@salespot.by", "e\u0301ve@example.com", "José@Example.com", "admin", "@salespot.by",
               "adminü@salespot.by", "😀@example.com", "admin\u0301@x.io",
               123, 1.0, True, False, None, ["a@example.com"], [], {"a": 1}]
ROLES = ["admin", "editor", "viewer", "owner", "staff", "user", "manager"]
ROLES_EDGE = ["", "Admin", "ADMIN", ["admin", "viewer"], ["viewer"], ["owner"], [], ["gold"],
              ["manager", 7], 7, 0, None, True, {"r": "admin"}]
ENVIRONMENTS = ["dev", "staging", "production"]
ENVIRONMENTS_EDGE = ["", "Production", "prod", "development", "d", "ðev", 1, None, False, ["dev"]]
VERSIONS = ["1.0.0", "1.4.2", "1.4.3", "1.9.0", "1.9.3", "1.9.7", "2.0.0", "2.0.0-rc.1",
            "2.0.0-rc.2", "2.1.0+build.5", "v1.5.3", "V2.3.4", "1.5", "2", "3.0.1", "0.9.9",
            "10.0.0", "1.0.0-alpha.10", "1.0.0-alpha.9", "1.5.0-beta", "3.0.0", "3.0.0+meta"]
VERSIONS_EDGE = ["", "1.2.3.4", "latest", "01.2.3", "1.2.3-01", "v", "vv1.2.3", " 1.2.3",
                 "1.2.3 ", "1.", "99999999999999999999.0.0", "1.9.0-", "1.9.0+", "１.2.3",
                 "1.9-rc.1", "2+build", 2, 1.5, 1.9, 2.0, 0, -1, True, None, ["1.0.0"], {"v": 1}]
COUNTRIES = ["DE", "FR", "US", "CA", "BY", "PL", "JP", "IT", "NL", "GB", "LT"]
COUNTRIES_EDGE = ["", "BYN", "by", "Беларусь", "De", "DE ", "ES\u0301", "🇩🇪", 49, 0, None, True,
                  ["DE"], ["BY", "US"], {"c": "DE"}]
TIERS = ["gold", "silver", "bronze", "platinum", "free"]
TIERS_EDGE = ["", "Gold", "ü", "g", "gold ", "null", 1.5, 2, 0, None, True, False, ["gold"],
              ["gold", "green"], ["silver"], [], {"t": 1}]
BETAS = [True, False]
BETAS_EDGE = ["true", "false", "", "1", "0", 1, 0, 1.0, 2, None, [], [0], {"b": True}]


def gen_age(rng):
    r = rng.random()
    if r < 0.65:
        return rng.randint(0, 99)
    if r < 0.75:
        return rng.choice([17.5, 18.0, 65.0, 65.5, 0.5, 99.9, 30.25, 1e20, -0.0])
    return rng.choice(["30", "17", "3", "abc", "", " 42 ", "1e3", "0", "NaN", "1_000", "Infinity",
                       -5, -1, 0, 200, True, False, None, [30], [], [10, 20], {"a": 1}])


def pick(rng, normal, edge, p_present=0.85, p_edge=0.15):
    if rng.random() >= p_present:
        return _MISSING
    if rng.random() < p_edge:
        return rng.choice(edge)
    return rng.choice(normal)


def gen_context(rng, i):
    ctx = {}
    if rng.random() < 0.88:
        if rng.random() < 0.12:
            ctx["targetingKey"] = rng.choice(TARGETING_KEYS_EDGE)
        else:
            ctx["targetingKey"] = "user-%d" % rng.randint(0, 100000)
    attrs = [
        ("email", lambda: pick(rng, EMAILS, EMAILS_EDGE)),
        ("role", lambda: pick(rng, ROLES, ROLES_EDGE)),
        ("environment", lambda: pick(rng, ENVIRONMENTS, ENVIRONMENTS_EDGE)),
        ("version", lambda: pick(rng, VERSIONS, VERSIONS_EDGE, p_edge=0.25)),
        ("age", lambda: gen_age(rng) if rng.random() < 0.85 else _MISSING),
        ("country", lambda: pick(rng, COUNTRIES, COUNTRIES_EDGE)),
        ("tier", lambda: pick(rng, TIERS, TIERS_EDGE)),
        ("beta", lambda: pick(rng, BETAS, BETAS_EDGE, p_present=0.7, p_edge=0.3)),
    ]
    for name, gen in attrs:
        value = gen()
        if value is not _MISSING:
            ctx[name] = value
    # occasionally an attribute that is present but null, or an unrelated attribute
    if rng.random() < 0.03:
        ctx[rng.choice(["email", "role", "age", "country", "version"])] = None
    if rng.random() < 0.03:
        ctx["$flagd"] = {"flagKey": "spoofed"}
    return ctx


# --- evaluation -------------------------------------------------------------------------

def evaluate(core, key, ftype, ctx):
    attributes = {k: v for k, v in ctx.items() if k != "targetingKey"}
    ec = EvaluationContext(targeting_key=ctx.get("targetingKey"), attributes=attributes)
    method = getattr(core, "resolve_%s_value" % ftype)
    sentinel = object()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the JSONLogic `log` op prints
            details = method(key, sentinel, ec)
    except OpenFeatureError as err:
        return None, None, "ERROR", err.error_code.value
    except Exception:  # noqa: BLE001 - the SDK maps any other exception to GENERAL
        return None, None, "ERROR", "GENERAL"
    value = None if details.value is sentinel else details.value
    reason = details.reason.value if hasattr(details.reason, "value") else details.reason
    error = details.error_code.value if details.error_code is not None else None
    return value, details.variant, reason, error


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, count, seed = argv[1], int(argv[2]), int(argv[3])
    with open(path, encoding="utf-8") as f:
        definitions = json.load(f)
    core = FlagdCore()
    core.set_flags(json.loads(json.dumps(definitions)))  # set_flags mutates its input
    types = {key: flag_type(flag["variants"]) for key, flag in definitions["flags"].items()}
    rng = random.Random(seed)
    out = sys.stdout
    for i in range(count):
        ctx = gen_context(rng, i)
        for key, ftype in types.items():
            value, variant, reason, error = evaluate(core, key, ftype, ctx)
            line = {"flag": key, "context": ctx, "value": value, "variant": variant,
                    "reason": reason, "errorCode": error}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
