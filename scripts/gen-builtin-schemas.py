#!/usr/bin/env python3
"""Generate Sources/LocalCluster/BuiltinSchemas.swift: the field names and field types of the built-in Kubernetes
kinds that LocalCluster serves, so that it can implement kube-apiserver's `fieldValidation` (Strict/Warn/Ignore).

What it reads
    Only the official Kubernetes Python client (PyPI package `kubernetes`), nothing from the network. Every model
    class there (e.g. `kubernetes.client.V1Deployment`) has `openapi_types` (python attribute -> python type string:
    'V1ObjectMeta', 'List[V1Container]', 'Dict[str, str]', 'str', 'int', 'float', 'bool', 'bytes', 'datetime',
    'object'; older releases spell lists/maps 'list[T]' / 'dict(str, T)', both are accepted) and `attribute_map`
    (python attribute -> JSON field name). Starting from the kinds in KINDS below, every model type reachable through
    field types is collected (transitively, recursion such as V1JSONSchemaProps is fine).

How to run
    python3 -m venv /tmp/k8s-venv && /tmp/k8s-venv/bin/pip install kubernetes
    /tmp/k8s-venv/bin/python scripts/gen-builtin-schemas.py            # writes the Swift file, then runs the checks
    /tmp/k8s-venv/bin/python scripts/gen-builtin-schemas.py --check    # only parses the Swift file back and checks it
    (--output PATH writes/checks another file.) The output header records the package version it was generated from;
    the current file was generated from kubernetes 37.0.2 (OpenAPI document release-1.37). To upgrade, install
    another version (`pip install kubernetes==X`) and rerun; the output is sorted, so diffs are minimal.

Output (Swift, no imports)
    enum BuiltinSchemas {
        static let pythonClientVersion: String      // e.g. "37.0.2"
        static let apiVersion: String               // e.g. "release-1.37"
        static let kinds: [String: String]          // "group/version/Kind" ("" group = core) -> model type name
        static let types: [String: [String: String]] // model type name -> JSON field name -> type expression
        static func load() -> [String: [String: String]] // parses `table` (types is `load()`, computed once)
    }
    Type expressions: a model type name ("V1ObjectMeta"), "[T]" (list of T), "{T}" (map of string to T), or a
    primitive: "string", "integer", "number", "boolean", "time" (python 'datetime', RFC 3339 string in JSON),
    "any" (python 'object': free-form / int-or-string values). Python 'bytes' (base64 in JSON, e.g.
    Secret.data, ConfigMap.binaryData) becomes "string". Nesting is allowed: "{[string]}" is a map of string lists.

Line format of the raw string `table` (parsed by `load()`, and by `parse_table` below in --check mode)
    One model type per line:  `TypeName field:expr field:expr ...`  separated by single spaces, fields sorted.
    The field name is everything before the first ':' of a token, the expression everything after it.
    Escaping: a JSON field name character outside [A-Za-z0-9_$-] (space, ':', '%', '#', '"', '\\', non-ASCII, ...)
    is written as %XX (uppercase hex of each UTF-8 byte). With kubernetes 37.0.2 no name needs it: the unusual ones
    are only V1JSONSchemaProps' `$ref`, `$schema` and `x-kubernetes-*`, which are kept verbatim. Type names and
    expressions never need escaping (checked). Lines starting with '#' are comments (none are emitted).

Caveats
    - V1JSONSchemaProps (CRD openAPIV3Schema) is recursive; its `default`, `example`, `enum` items, `items`,
      `additionalProperties`, `additionalItems`, `dependencies` values are python 'object' and so "any".
    - ObjectMeta.managedFields[].fieldsV1 is 'object' -> "any".
    - IntOrString fields (ports' targetPort, rolling update maxSurge/maxUnavailable, PDB minAvailable, ...) are
      python 'object' -> "any". Resource Quantity fields (resources.limits/requests, node capacity, emptyDir
      sizeLimit, ...) are python 'str' -> "string", because the OpenAPI document declares Quantity as a string;
      kube-apiserver nevertheless accepts JSON numbers there, so do not reject numbers for "string" fields on type
      grounds alone (fieldValidation itself is only about unknown and duplicate fields).
    - Types that are empty structs in Kubernetes are python 'object' too, so they also become "any" and unknown
      fields inside them go undetected: CRD subresources.status (CustomResourceSubresourceStatus) and the alpha
      workload pod-group modes (`basic`, `all`, `single`). Alpha/beta types reachable from stable kinds (e.g.
      Job spec scheduling -> V1alpha3WorkloadPodGroup*) are included, as the client lists them as fields.
    - Core and events.k8s.io Event are different models (CoreV1Event, EventsV1Event), as are core and discovery
      endpoint ports (CoreV1EndpointPort, DiscoveryV1EndpointPort): keys use the python client's class names.
"""

import argparse
import os
import re
import sys

import kubernetes
import kubernetes.client as client

# "group/version/Kind" (core group = "") -> python client model class name.
KINDS = {
    "/v1/Namespace": "V1Namespace",
    "/v1/Service": "V1Service",
    "/v1/ConfigMap": "V1ConfigMap",
    "/v1/Secret": "V1Secret",
    "/v1/Pod": "V1Pod",
    "/v1/Event": "CoreV1Event",
    "/v1/ServiceAccount": "V1ServiceAccount",
    "/v1/Endpoints": "V1Endpoints",
    "/v1/Node": "V1Node",
    "events.k8s.io/v1/Event": "EventsV1Event",
    "apps/v1/Deployment": "V1Deployment",
    "apps/v1/ReplicaSet": "V1ReplicaSet",
    "apps/v1/StatefulSet": "V1StatefulSet",
    "apps/v1/DaemonSet": "V1DaemonSet",
    "networking.k8s.io/v1/Ingress": "V1Ingress",
    "batch/v1/Job": "V1Job",
    "batch/v1/CronJob": "V1CronJob",
    "coordination.k8s.io/v1/Lease": "V1Lease",
    "discovery.k8s.io/v1/EndpointSlice": "V1EndpointSlice",
    "apiextensions.k8s.io/v1/CustomResourceDefinition": "V1CustomResourceDefinition",
    "rbac.authorization.k8s.io/v1/Role": "V1Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "V1RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRole": "V1ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "V1ClusterRoleBinding",
    "autoscaling/v1/Scale": "V1Scale",
    "policy/v1/PodDisruptionBudget": "V1PodDisruptionBudget",
}

PRIMITIVES = {
    "str": "string",
    "bytes": "string",
    "bytearray": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "datetime": "time",
    "object": "any",
}

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(REPO, "Sources", "LocalCluster", "BuiltinSchemas.swift")
SAFE_NAME = re.compile(r"[A-Za-z0-9_$-]")
MODEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXPR = re.compile(r"[A-Za-z0-9_\[\]{}]+")


def model_class(name):
    cls = getattr(client, name, None)
    if not isinstance(cls, type) or not isinstance(getattr(cls, "openapi_types", None), dict):
        sys.exit(f"error: {name} is not a model class of kubernetes {kubernetes.__version__}")
    return cls


def convert(pytype, refs):
    """Python client type string -> type expression; model names found are added to refs."""
    t = pytype.strip()
    for prefix in ("List[", "list["):
        if t.startswith(prefix) and t.endswith("]"):
            return "[" + convert(t[len(prefix):-1], refs) + "]"
    for prefix, close in (("Dict[str,", "]"), ("dict(str,", ")")):
        if t.startswith(prefix) and t.endswith(close):
            return "{" + convert(t[len(prefix):-1], refs) + "}"
    if t in PRIMITIVES:
        return PRIMITIVES[t]
    if MODEL_NAME.fullmatch(t):
        model_class(t)
        refs.add(t)
        return t
    sys.exit(f"error: unsupported python type {pytype!r}")


def collect():
    types = {}
    pending = sorted(set(KINDS.values()))
    while pending:
        name = pending.pop()
        if name in types:
            continue
        cls = model_class(name)
        refs = set()
        fields = {}
        for attr, pytype in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            if json_name in fields:
                sys.exit(f"error: {name} has two attributes named {json_name!r}")
            fields[json_name] = convert(pytype, refs)
        types[name] = fields
        pending.extend(sorted(refs - types.keys()))
    return types


def escape(name):
    return "".join(c if SAFE_NAME.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in name)


def unescape(text):
    if "%" not in text:
        return text
    out, i, raw = bytearray(), 0, text.encode()
    while i < len(raw):
        if raw[i] == ord("%") and i + 2 < len(raw):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


def api_document_version():
    report = client.Configuration().to_debug_report()
    m = re.search(r"Version of the API:\s*(\S+)", report)
    return m.group(1) if m else "unknown"


def render(types):
    version = kubernetes.__version__
    api = api_document_version()
    lines = []
    for name in sorted(types):
        fields = types[name]
        for expr in fields.values():
            assert EXPR.fullmatch(expr), expr
        lines.append(" ".join([name] + [f"{escape(k)}:{fields[k]}" for k in sorted(fields)]))
    table = "\n".join(lines)
    assert '"#' not in table and "\\#" not in table
    kinds = "\n".join(f'        "{k}": "{v}",' for k, v in sorted(KINDS.items()))
    return f'''// Generated by scripts/gen-builtin-schemas.py from the Kubernetes Python client (PyPI `kubernetes`) {version},
// OpenAPI document {api}. Do not edit: rerun the script (see its header for how and for the line format).

/// Field names and field types of the built-in kinds LocalCluster serves, as Kubernetes defines them, for
/// `fieldValidation` (Strict/Warn/Ignore: unknown fields). Type expressions: a model type name ("V1ObjectMeta"),
/// "[T]" (list of T), "{{T}}" (map of string to T), "string", "integer", "number", "boolean", "time" (RFC 3339
/// string), "any" (free-form: RawExtension, JSON, IntOrString; Quantity fields are "string" but accept numbers).
enum BuiltinSchemas {{
    /// Version of the `kubernetes` Python client package the data was generated from.
    static let pythonClientVersion = "{version}"
    /// Version of the Kubernetes OpenAPI document that package was generated from.
    static let apiVersion = "{api}"

    /// "group/version/Kind" (core group is empty: "/v1/ConfigMap") -> model type name, a key of `types`.
    static let kinds: [String: String] = [
{kinds}
    ]

    /// Model type name -> JSON field name -> type expression. Parsed from `table` once, on first use.
    static let types: [String: [String: String]] = load()

    /// Parses `table`: one type per line, `TypeName field:expr field:expr ...`, single spaces; a field name is
    /// the text before the token's first ':', with %XX (hex UTF-8 byte) escapes; lines starting with '#' are skipped.
    static func load() -> [String: [String: String]] {{
        var result: [String: [String: String]] = [:]
        for line in table.split(separator: "\\n") where !line.hasPrefix("#") {{
            let tokens = line.split(separator: " ")
            guard let name = tokens.first else {{ continue }}
            var fields: [String: String] = [:]
            fields.reserveCapacity(tokens.count - 1)
            for token in tokens.dropFirst() {{
                guard let colon = token.firstIndex(of: ":") else {{ continue }}
                fields[unescape(token[..<colon])] = String(token[token.index(after: colon)...])
            }}
            result[String(name)] = fields
        }}
        return result
    }}

    /// Decodes %XX escapes (uppercase or lowercase hex of UTF-8 bytes).
    private static func unescape(_ text: Substring) -> String {{
        guard text.contains("%") else {{ return String(text) }}
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {{
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count,
               let high = hexValue(utf8[i + 1]), let low = hexValue(utf8[i + 2]) {{
                bytes.append(high << 4 | low)
                i += 3
            }} else {{
                bytes.append(utf8[i])
                i += 1
            }}
        }}
        return String(decoding: bytes, as: UTF8.self)
    }}

    private static func hexValue(_ c: UInt8) -> UInt8? {{
        switch c {{
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }}
    }}

    private static let table = #"""
{table}
"""#
}}
'''


# ---- --check: parse the generated Swift back, the same way load() does ----

def parse_swift(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r'static let table = #"""\n(.*?)\n"""#', text, re.S)
    if not m:
        sys.exit(f"error: no table raw string in {path}")
    types = {}
    for line in m.group(1).split("\n"):
        if not line or line.startswith("#"):
            continue
        tokens = [t for t in line.split(" ") if t]
        fields = {}
        for token in tokens[1:]:
            key, sep, expr = token.partition(":")
            if sep:
                fields[unescape(key)] = expr
        types[tokens[0]] = fields
    block = text.split("static let kinds: [String: String] = [\n", 1)[1].split("\n    ]\n", 1)[0]
    kinds = dict(re.findall(r'^\s*"([^"]*)": "([^"]*)",$', block, re.M))
    version = re.search(r'static let pythonClientVersion = "([^"]*)"', text).group(1)
    return kinds, types, version


def resolve(types, type_name, path):
    """Follows a dotted path through model types, unwrapping [T] / {T}; returns the final expression."""
    expr = type_name
    for field in path:
        while expr[0] in "[{":
            expr = expr[1:-1]
        assert expr in types, f"{expr} is not a model type (at {field!r})"
        assert field in types[expr], f"{expr} has no field {field!r}: {sorted(types[expr])}"
        expr = types[expr][field]
    return expr


def check(path, expected=None):
    kinds, types, version = parse_swift(path)
    problems = []

    def expect(cond, msg):
        if not cond:
            problems.append(msg)

    if expected is not None:
        expect(types == expected, "parsed table differs from the generated data")
    expect(kinds == KINDS, "kinds differ from KINDS")
    for kind, t in kinds.items():
        expect(t in types, f"{kind}: {t} missing from types")
    prims = set(PRIMITIVES.values())
    for t, fields in types.items():
        for f, e in fields.items():
            inner = e
            while inner[:1] in ("[", "{"):
                expect(inner[-1] == {"[": "]", "{": "}"}[inner[0]], f"{t}.{f}: bad expression {e}")
                inner = inner[1:-1]
            expect(inner in prims or inner in types, f"{t}.{f}: {e} refers to unknown type")

    def fields_of(type_name, *path):
        e = resolve(types, type_name, path)
        while e[0] in "[{":
            e = e[1:-1]
        return types[e]

    c = resolve(types, "V1Deployment", ["spec", "template", "spec", "containers"])
    expect(c == "[V1Container]", f"Deployment spec.template.spec.containers is {c}")
    container = fields_of("V1Deployment", "spec", "template", "spec", "containers")
    for f in ("image", "imagePullPolicy", "resources", "ports"):
        expect(f in container, f"V1Container lacks {f}")
    svc = fields_of("V1Service", "spec")
    for f in ("clusterIP", "ports", "type", "ipFamilies"):
        expect(f in svc, f"V1ServiceSpec lacks {f}")
    expect(svc.get("selector") == "{string}", f"V1ServiceSpec.selector is {svc.get('selector')}")
    expect(types["V1ObjectMeta"].get("managedFields") == "[V1ManagedFieldsEntry]", "ObjectMeta.managedFields")
    expect(types["V1ObjectMeta"].get("ownerReferences") == "[V1OwnerReference]", "ObjectMeta.ownerReferences")
    expect(types["V1ManagedFieldsEntry"].get("fieldsV1") == "any", "managedFields[].fieldsV1 is not any")
    expect(types["V1ServicePort"].get("targetPort") == "any", "ServicePort.targetPort (IntOrString) is not any")
    schema = types["V1JSONSchemaProps"]
    for f, e in {"$ref": "string", "$schema": "string", "x-kubernetes-preserve-unknown-fields": "boolean",
                 "x-kubernetes-int-or-string": "boolean", "properties": "{V1JSONSchemaProps}",
                 "default": "any", "example": "any", "enum": "[any]", "items": "any",
                 "additionalProperties": "any", "not": "V1JSONSchemaProps"}.items():
        expect(schema.get(f) == e, f"V1JSONSchemaProps.{f} is {schema.get(f)}, expected {e}")
    crd = resolve(types, "V1CustomResourceDefinition", ["spec", "versions", "schema", "openAPIV3Schema"])
    expect(crd == "V1JSONSchemaProps", f"CRD openAPIV3Schema is {crd}")
    expect(escape("a:b %") == "a%3Ab%20%25" and unescape("a%3Ab%20%25") == "a:b %", "escaping round trip")

    size = os.path.getsize(path)
    if problems:
        print("\n".join("FAIL: " + p for p in problems))
        sys.exit(1)
    print(f"OK: {path}: kubernetes {version}, {len(kinds)} kinds, {len(types)} types, "
          f"{sum(len(f) for f in types.values())} fields, {size} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only parse the Swift file back and check it")
    ap.add_argument("--output", default=DEFAULT_OUTPUT, help="Swift file to write/check")
    args = ap.parse_args()
    if args.check:
        check(args.output)
        return
    types = collect()
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(render(types))
    check(args.output, expected=types)


if __name__ == "__main__":
    main()
