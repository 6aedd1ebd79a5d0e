#!/usr/bin/env python3
"""Generate Sources/LocalCluster/ProtobufTables.swift: the field tables that let LocalCluster decode request bodies
that kubectl sends as Kubernetes protobuf (Content-Type application/vnd.kubernetes.protobuf) into JSON, for the
built-in kinds listed in ROOTS below (see Sources/LocalCluster/Protobuf.swift for the decoder).

What it reads
    The `generated.proto` files of the Kubernetes API, in the layout of the Go modules k8s.io/api and
    k8s.io/apimachinery (standard library only, nothing from the network):
        API_DIR/{core,apps,autoscaling,batch,networking,coordination,rbac,policy,discovery,events,scheduling}/v1/
            generated.proto
        APIMACHINERY_DIR/pkg/apis/meta/v1/generated.proto
        APIMACHINERY_DIR/pkg/util/intstr/generated.proto
        APIMACHINERY_DIR/pkg/api/resource/generated.proto
        APIMACHINERY_DIR/pkg/runtime/generated.proto
    Full upstream files and excerpts both work: only `package`, `message` blocks, field lines and the `+optional`
    markers of the doc comments (a comment line right above a field, or a trailing `// +optional`) are read.

How to get them (again)
    The current table was generated from excerpts saved under /tmp/k8s-proto/{api,apimachinery}/... (reachable
    messages only, copied from kubernetes/kubernetes staging/src/k8s.io/{api,apimachinery} at 1.36 development and
    from kubernetes/api; each excerpt names its source commit in its header). To regenerate from full upstream files
    of a release:
        git clone --depth 1 -b v0.37.0 https://github.com/kubernetes/api /tmp/k8s-api
        git clone --depth 1 -b v0.37.0 https://github.com/kubernetes/apimachinery /tmp/k8s-apimachinery
        python3 scripts/gen-protobuf-tables.py --api /tmp/k8s-api --apimachinery /tmp/k8s-apimachinery
    (or `go mod download -json k8s.io/api@v0.37.0 k8s.io/apimachinery@v0.37.0` and point at the module directories).
    `--check` only parses the Swift file back and checks it; `--output PATH` writes/checks another file.
    After writing (and with `--check`), unless `--no-compare`, it prints for every message the JSON fields that the
    OpenAPI-derived field lists of Sources/LocalCluster/BuiltinSchemas.swift have and the protobuf table lacks (an
    API newer than the .proto files: such fields are dropped on decode), and the reverse.

Semantics encoded in the table (what Go's kube-apiserver does with the same bytes)
    - Field names are the JSON names: go-to-protobuf names proto fields after the JSON tag. Exceptions are listed in
      RENAMED (none reachable today).
    - Embedded Go structs (`json:",inline"`) are proto fields named after the type (e.g. ConfigMapKeySelector's
      `localObjectReference`, Volume's `volumeSource`, Probe's `handler`); their fields belong to the parent JSON
      object. They are listed in INLINE and marked with JSON name `*`.
    - The Go marshaller writes every non-pointer field, zero or not (an empty `namespace`, `generation: 0`,
      `paused: false` ...), and Go then treats zero and absent alike. Non-pointer scalar fields with `+optional`
      (Go `omitempty`) therefore carry the flag `?`: a zero value is dropped, which is the JSON client-go would
      send. Pointer fields (GO_POINTERS, from each package's zz_generated.deepcopy.go: `*out = new(T)`) keep an
      explicit zero (`replicas: 0`, `automountServiceAccountToken: false`). Required non-pointer fields keep zeros
      as Go's JSON prints them (`containerPort: 0`); GO_OMITEMPTY lists `omitempty` fields the proto comments do not
      mark `+optional`, GO_KEEP_ZERO the reverse: non-pointer fields marked `+optional` whose JSON tag has no
      `omitempty` (RoleRef's `apiGroup: ""`, PriorityClass's `value: 0`).
    - Message names are the short proto names; MESSAGE_NAMES renames the messages whose short names clash (events/v1
      Event and EventSeries vs. core/v1's). GO_POINTERS, GO_OMITEMPTY, GO_KEEP_ZERO, INLINE and RENAMED use the
      table names.

Output (Swift, no imports): `extension KubeProtobuf` with two raw multi-line strings parsed on first use:
    kindTable:    one line per kind, `group/version/Kind Message` (core group empty: `/v1/Pod`; `*/Status` means any
                  group/version, as the meta/v1 kinds are registered in every group).
    messageTable: one line per message, `Message num:json:kind num:json:kind ...`, single spaces, where
                  json is the JSON field name or `*` (inline: decode into the parent object) and kind is
                  `[]T` (repeated T), `map<K,V>` (entries: key = 1, value = 2) or T, optionally followed by `?`
                  (drop when zero). T is a scalar (string bytes bool int32 int64 uint32 uint64 sint32 sint64
                  fixed32 fixed64 sfixed32 sfixed64 double float) or a message name of the table. Message names are
                  the short proto names or their MESSAGE_NAMES renames (checked unique). Time, MicroTime,
                  IntOrString, Quantity, RawExtension and FieldsV1 have JSON forms of their own, implemented by the
                  decoder.
"""

import argparse
import os
import re
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUTPUT = os.path.join(REPO, "Sources", "LocalCluster", "ProtobufTables.swift")
BUILTIN_SCHEMAS = os.path.join(REPO, "Sources", "LocalCluster", "BuiltinSchemas.swift")

# (directory argument, path inside it) of every file read.
API_FILES = ["core/v1", "apps/v1", "autoscaling/v1", "batch/v1", "networking/v1", "coordination/v1", "rbac/v1",
             "policy/v1", "discovery/v1", "events/v1", "scheduling/v1"]
APIMACHINERY_FILES = ["pkg/apis/meta/v1", "pkg/util/intstr", "pkg/api/resource", "pkg/runtime"]

# "group/version/Kind" -> fully qualified message name. `*/Kind`: any group/version.
ROOTS = OrderedDict([
    ("/v1/ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
    ("/v1/Secret", "k8s.io.api.core.v1.Secret"),
    ("/v1/Namespace", "k8s.io.api.core.v1.Namespace"),
    ("/v1/Service", "k8s.io.api.core.v1.Service"),
    ("/v1/Pod", "k8s.io.api.core.v1.Pod"),
    ("/v1/ServiceAccount", "k8s.io.api.core.v1.ServiceAccount"),
    ("/v1/Event", "k8s.io.api.core.v1.Event"),
    ("/v1/ResourceQuota", "k8s.io.api.core.v1.ResourceQuota"),
    ("apps/v1/Deployment", "k8s.io.api.apps.v1.Deployment"),
    ("apps/v1/ReplicaSet", "k8s.io.api.apps.v1.ReplicaSet"),
    ("autoscaling/v1/Scale", "k8s.io.api.autoscaling.v1.Scale"),
    ("batch/v1/Job", "k8s.io.api.batch.v1.Job"),
    ("batch/v1/CronJob", "k8s.io.api.batch.v1.CronJob"),
    ("networking.k8s.io/v1/Ingress", "k8s.io.api.networking.v1.Ingress"),
    ("coordination.k8s.io/v1/Lease", "k8s.io.api.coordination.v1.Lease"),
    ("rbac.authorization.k8s.io/v1/Role", "k8s.io.api.rbac.v1.Role"),
    ("rbac.authorization.k8s.io/v1/ClusterRole", "k8s.io.api.rbac.v1.ClusterRole"),
    ("rbac.authorization.k8s.io/v1/RoleBinding", "k8s.io.api.rbac.v1.RoleBinding"),
    ("rbac.authorization.k8s.io/v1/ClusterRoleBinding", "k8s.io.api.rbac.v1.ClusterRoleBinding"),
    ("policy/v1/PodDisruptionBudget", "k8s.io.api.policy.v1.PodDisruptionBudget"),
    ("discovery.k8s.io/v1/EndpointSlice", "k8s.io.api.discovery.v1.EndpointSlice"),
    ("events.k8s.io/v1/Event", "k8s.io.api.events.v1.Event"),
    ("scheduling.k8s.io/v1/PriorityClass", "k8s.io.api.scheduling.v1.PriorityClass"),
    ("*/DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
    ("*/Status", "k8s.io.apimachinery.pkg.apis.meta.v1.Status"),
])

# Messages whose JSON form is not an object of their fields; the decoder implements them by name. Their fields are
# still emitted (documentation, wire checks) but never traversed for reachability.
SPECIAL = {"Time", "MicroTime", "IntOrString", "Quantity", "RawExtension", "FieldsV1"}

# Embedded Go structs (`json:",inline"`): (short message name, proto field name).
INLINE = {
    ("ConfigMapEnvSource", "localObjectReference"),
    ("ConfigMapKeySelector", "localObjectReference"),
    ("ConfigMapProjection", "localObjectReference"),
    ("ConfigMapVolumeSource", "localObjectReference"),
    ("SecretEnvSource", "localObjectReference"),
    ("SecretKeySelector", "localObjectReference"),
    ("SecretProjection", "localObjectReference"),
    ("Volume", "volumeSource"),
    ("Probe", "handler"),
    ("EphemeralContainer", "ephemeralContainerCommon"),
    ("IngressRule", "ingressRuleValue"),
    ("PersistentVolumeSpec", "persistentVolumeSource"),
}

# Proto field names that differ from the JSON name: (short message name, proto name) -> JSON name.
RENAMED = {
    ("IngressClassParametersReference", "aPIGroup"): "apiGroup",
}

# Fully qualified message name -> its name in the table, for short names that clash between packages (named like
# the Kubernetes Python client's models).
MESSAGE_NAMES = {
    "k8s.io.api.events.v1.Event": "EventsV1Event",
    "k8s.io.api.events.v1.EventSeries": "EventsV1EventSeries",
}

# Go pointer fields (JSON names) of the reachable messages: these keep an explicit zero. From the packages'
# zz_generated.deepcopy.go (`if in.X != nil { ... *out = new(T) ... }` or `(*in).DeepCopy()` for Time/Quantity):
# core/v1 read at commit 0032f46b5dcb; meta/v1, apps/v1, batch/v1, networking/v1, coordination/v1 per their types.go;
# rbac/v1 (no scalar pointers), policy/v1, discovery/v1, events/v1, scheduling/v1 per their types.go.
# Only scalar fields matter (message fields keep presence anyway). Recheck them when upgrading the .proto files.
GO_POINTERS = {
    # core/v1
    "AppArmorProfile": "localhostProfile",
    "AzureDiskVolumeSource": "cachingMode fsType readOnly kind",
    "CSIVolumeSource": "readOnly fsType",
    "ClientIPConfig": "timeoutSeconds",
    "ClusterTrustBundleProjection": "name signerName optional",
    "ConfigMap": "immutable",
    "ConfigMapEnvSource": "optional",
    "ConfigMapKeySelector": "optional",
    "ConfigMapProjection": "optional",
    "ConfigMapVolumeSource": "defaultMode optional",
    "Container": "restartPolicy",
    "ContainerStatus": "started stopSignal",
    "DownwardAPIVolumeFile": "mode",
    "DownwardAPIVolumeSource": "defaultMode",
    "EphemeralContainerCommon": "restartPolicy",
    "FCVolumeSource": "lun",
    "FileKeySelector": "optional",
    "GRPCAction": "service",
    "HostPathVolumeSource": "type",
    "ISCSIVolumeSource": "initiatorName",
    "KeyToPath": "mode",
    "Lifecycle": "stopSignal",
    "LoadBalancerIngress": "ipMode",
    "PersistentVolumeClaimSpec": "storageClassName volumeMode volumeAttributesClassName",
    "PodCertificateProjection": "maxExpirationSeconds",
    "PodDNSConfigOption": "value",
    "PodResourceClaim": "resourceClaimName resourceClaimTemplateName",
    "PodResourceClaimStatus": "resourceClaimName",
    "PodSecurityContext": "runAsUser runAsGroup runAsNonRoot supplementalGroupsPolicy fsGroup fsGroupChangePolicy "
                          "seLinuxChangePolicy",
    "PodSpec": "terminationGracePeriodSeconds activeDeadlineSeconds automountServiceAccountToken "
               "shareProcessNamespace priority runtimeClassName enableServiceLinks preemptionPolicy "
               "setHostnameAsFQDN hostUsers hostnameOverride",
    "PortStatus": "error",
    "Probe": "terminationGracePeriodSeconds",
    "ProjectedVolumeSource": "defaultMode",
    "ResourceHealth": "message",
    "SeccompProfile": "localhostProfile",
    "Secret": "immutable",
    "SecretEnvSource": "optional",
    "SecretKeySelector": "optional",
    "SecretProjection": "optional",
    "SecretVolumeSource": "defaultMode optional",
    "SecurityContext": "privileged runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem "
                       "allowPrivilegeEscalation procMount",
    "ServiceAccount": "automountServiceAccountToken",
    "ServiceAccountTokenProjection": "expirationSeconds",
    "ServicePort": "appProtocol",
    "ServiceSpec": "ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy "
                   "trafficDistribution",
    "Toleration": "tolerationSeconds",
    "TopologySpreadConstraint": "minDomains nodeAffinityPolicy nodeTaintsPolicy",
    "TypedLocalObjectReference": "apiGroup",
    "TypedObjectReference": "apiGroup namespace",
    "VolumeMount": "recursiveReadOnly mountPropagation",
    "VolumeMountStatus": "recursiveReadOnly",
    "WindowsSecurityContextOptions": "gmsaCredentialSpecName gmsaCredentialSpec runAsUserName hostProcess",
    # meta/v1
    "DeleteOptions": "gracePeriodSeconds orphanDependents propagationPolicy "
                     "ignoreStoreReadErrorWithClusterBreakingPotential",
    "ListMeta": "remainingItemCount",
    "ObjectMeta": "deletionGracePeriodSeconds",
    "OwnerReference": "controller blockOwnerDeletion",
    "Preconditions": "uid resourceVersion",
    # apps/v1
    "DeploymentSpec": "replicas revisionHistoryLimit progressDeadlineSeconds podReplacementPolicy",
    "DeploymentStatus": "terminatingReplicas collisionCount",
    "ReplicaSetSpec": "replicas",
    "ReplicaSetStatus": "terminatingReplicas",
    # batch/v1
    "CronJobSpec": "timeZone startingDeadlineSeconds suspend successfulJobsHistoryLimit failedJobsHistoryLimit",
    "JobSpec": "parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex maxFailedIndexes "
               "manualSelector ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy",
    "JobStatus": "terminating failedIndexes ready",
    "PodFailurePolicyOnExitCodesRequirement": "containerName",
    "SuccessPolicyRule": "succeededIndexes succeededCount",
    # networking/v1
    "HTTPIngressPath": "pathType",
    "IngressPortStatus": "error",
    "IngressSpec": "ingressClassName",
    # coordination/v1
    "LeaseSpec": "holderIdentity leaseDurationSeconds leaseTransitions strategy preferredHolder",
    # policy/v1
    "PodDisruptionBudgetSpec": "unhealthyPodEvictionPolicy",
    # discovery/v1
    "Endpoint": "hostname nodeName zone",
    "EndpointConditions": "ready serving terminating",
    "EndpointPort": "name protocol port appProtocol",
    # scheduling/v1
    "PriorityClass": "preemptionPolicy",
}

# Non-pointer Go fields that are `omitempty` although their proto comment has no `+optional` marker: also `?`.
GO_OMITEMPTY = {
    "DeploymentCondition": "reason message",
    "EventSeries": "count",
    "EventsV1Event": "reportingController reportingInstance action reason type",
    "ListMeta": "continue",
    "ManagedFieldsEntry": "manager operation apiVersion fieldsType subresource",
}

# Non-pointer Go fields without `omitempty` although their proto comment has `+optional`: zeros are kept (no `?`).
GO_KEEP_ZERO = {
    "PriorityClass": "value",
    "RoleRef": "apiGroup",
}

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
           "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float"}

FIELD_RE = re.compile(
    r"^\s*(optional|required|repeated)?\s*"
    r"(map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;\s*(//.*)?$")


class Field:
    def __init__(self, label, type_name, key_type, value_type, name, number, optional_marker):
        self.label = label or "optional"
        self.type_name = type_name      # scalar or type reference (map: None)
        self.key_type = key_type        # map key type or None
        self.value_type = value_type    # map value type or None
        self.name = name
        self.number = number
        self.optional_marker = optional_marker


class Message:
    def __init__(self, package, name):
        self.package = package
        self.name = name
        self.fields = []

    @property
    def fqname(self):
        return self.package + "." + self.name


def parse_proto(path):
    """Returns the messages of one .proto file (top-level messages; Kubernetes has no nested ones)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    package = None
    messages = []
    current = None
    depth = 0
    comment = []            # the comment lines right above the current line
    for raw in lines:
        line = raw.strip()
        if line.startswith("//"):
            comment.append(line)
            continue
        if not line:
            comment = []
            continue
        m = re.match(r"^package\s+([\w.]+)\s*;", line)
        if m:
            package = m.group(1)
            comment = []
            continue
        m = re.match(r"^message\s+(\w+)\s*\{(.*)$", line)
        if m and depth == 0:
            if package is None:
                sys.exit(f"{path}: message before package")
            current = Message(package, m.group(1))
            messages.append(current)
            depth = 1
            if "}" in m.group(2):
                depth = 0
                current = None
            comment = []
            continue
        if current is not None:
            if line.startswith("}"):
                depth -= 1
                if depth == 0:
                    current = None
                comment = []
                continue
            if line.startswith(("message ", "enum ", "oneof ")):
                sys.exit(f"{path}: nested declarations are not supported: {line}")
            m = FIELD_RE.match(line)
            if not m:
                if line.startswith(("option ", "reserved ", "extensions ")):
                    comment = []
                    continue
                sys.exit(f"{path}: cannot parse field line: {line}")
            label, type_text, key_type, value_type, name, number, _, trailing = m.groups()
            optional_marker = any("+optional" in c for c in comment) or bool(trailing and "+optional" in trailing)
            if key_type:
                current.fields.append(Field(label, None, key_type, value_type, name, int(number), optional_marker))
            else:
                current.fields.append(Field(label, type_text, None, None, name, int(number), optional_marker))
            comment = []
            continue
        comment = []
    return messages


def load_all(api_dir, apimachinery_dir):
    messages = {}
    sources = []
    for base, subdirs in ((api_dir, API_FILES), (apimachinery_dir, APIMACHINERY_FILES)):
        for sub in subdirs:
            path = os.path.join(base, sub, "generated.proto")
            if not os.path.exists(path):
                sys.exit(f"missing {path} (see the header of this script for how to get the .proto files)")
            sources.append(path)
            for msg in parse_proto(path):
                messages[msg.fqname] = msg
    return messages, sources


def resolve(type_name, package, messages):
    """Resolves a type reference of a field declared in `package` to a fully qualified message name, or a scalar."""
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        fq = type_name[1:]
        if fq in messages:
            return fq
        sys.exit(f"unknown type {type_name}")
    # Relative: innermost scope first (package, then its parents), as protoc does.
    scope = package.split(".")
    while scope:
        fq = ".".join(scope) + "." + type_name
        if fq in messages:
            return fq
        scope.pop()
    if type_name in messages:
        return type_name
    sys.exit(f"unknown type {type_name} (in package {package})")


def short(fq):
    """The name of a message in the table."""
    return MESSAGE_NAMES.get(fq) or fq.rsplit(".", 1)[1]


def build(messages):
    """Reachable messages from ROOTS, in a stable order, with their table lines."""
    for key, fq in ROOTS.items():
        if fq not in messages:
            sys.exit(f"root {key}: message {fq} not found")
    reachable = OrderedDict()
    queue = list(ROOTS.values())
    while queue:
        fq = queue.pop(0)
        if fq in reachable:
            continue
        msg = messages[fq]
        reachable[fq] = msg
        if msg.name in SPECIAL:
            continue
        for f in msg.fields:
            for t in ([f.value_type] if f.key_type else [f.type_name]):
                r = resolve(t, msg.package, messages)
                if r not in SCALARS and r not in reachable:
                    queue.append(r)
    # SPECIAL messages' own fields reference scalars only; make sure every special name used resolves to one message.
    names = {}
    for fq in reachable:
        n = short(fq)
        if n in names:
            sys.exit(f"short message name {n} is ambiguous: {names[n]} and {fq}")
        names[n] = fq
    return reachable


def field_kind(f, msg, messages):
    if f.key_type:
        k = resolve(f.key_type, msg.package, messages)
        v = resolve(f.value_type, msg.package, messages)
        if k not in SCALARS:
            sys.exit(f"{msg.name}.{f.name}: map key must be a scalar")
        return f"map<{k},{v if v in SCALARS else short(v)}>", None
    t = resolve(f.type_name, msg.package, messages)
    base = t if t in SCALARS else short(t)
    return ("[]" + base if f.label == "repeated" else base), t


def table_lines(reachable, messages):
    pointers = {m: set(v.split()) for m, v in GO_POINTERS.items()}
    omitempty = {m: set(v.split()) for m, v in GO_OMITEMPTY.items()}
    keep_zero = {m: set(v.split()) for m, v in GO_KEEP_ZERO.items()}
    used_pointers = set()
    used_omitempty = set()
    used_keep_zero = set()
    used_inline = set()
    lines = []
    for fq, msg in sorted(reachable.items(), key=lambda kv: short(kv[0])):
        name = short(fq)
        tokens = [name]
        for f in msg.fields:
            kind, target = field_kind(f, msg, messages)
            json = RENAMED.get((name, f.name), f.name)
            if (name, f.name) in INLINE:
                used_inline.add((name, f.name))
                if f.label == "repeated" or f.key_type or target in SCALARS or target is None:
                    sys.exit(f"{name}.{f.name}: inline fields must be singular messages")
                json = "*"
            is_pointer = json in pointers.get(name, ())
            if is_pointer:
                used_pointers.add((name, json))
            singular_scalar = f.label != "repeated" and not f.key_type and target in SCALARS
            extra_omitempty = json in omitempty.get(name, ())
            if extra_omitempty:
                used_omitempty.add((name, json))
            keeps_zero = json in keep_zero.get(name, ())
            if keeps_zero:
                used_keep_zero.add((name, json))
                if not singular_scalar or is_pointer or extra_omitempty:
                    sys.exit(f"GO_KEEP_ZERO: {name}.{json} is not a non-pointer scalar outside GO_OMITEMPTY")
            if singular_scalar and not is_pointer and not keeps_zero and (f.optional_marker or extra_omitempty):
                kind += "?"
            if not re.fullmatch(r"[A-Za-z0-9_$-]+|\*", json):
                sys.exit(f"{name}.{f.name}: JSON name {json!r} needs escaping (not supported)")
            tokens.append(f"{f.number}:{json}:{kind}")
        lines.append(" ".join(tokens))
    for m, fields in pointers.items():
        for name in fields:
            if (m, name) not in used_pointers and any(short(fq) == m for fq in reachable):
                sys.exit(f"GO_POINTERS: {m}.{name} is not a field of the reachable message {m}")
    for m, fields in omitempty.items():
        for name in fields:
            if (m, name) not in used_omitempty and any(short(fq) == m for fq in reachable):
                sys.exit(f"GO_OMITEMPTY: {m}.{name} is not a field of the reachable message {m}")
    for m, fields in keep_zero.items():
        for name in fields:
            if (m, name) not in used_keep_zero and any(short(fq) == m for fq in reachable):
                sys.exit(f"GO_KEEP_ZERO: {m}.{name} is not a field of the reachable message {m}")
    for m, name in INLINE:
        if (m, name) not in used_inline and any(short(fq) == m for fq in reachable):
            sys.exit(f"INLINE: {m}.{name} is not a field of the reachable message {m}")
    return lines


def kind_lines(reachable):
    return [f"{key} {short(fq)}" for key, fq in ROOTS.items()]


SWIFT_TEMPLATE = '''\
// Generated by scripts/gen-protobuf-tables.py from the Kubernetes generated.proto files:
{sources}
// Do not edit: rerun the script (see its header for where the .proto files come from and for the line format).

extension KubeProtobuf {{
    /// "group/version/Kind" (core group empty: "/v1/Pod"; "*/Kind": any group/version) and the message of its body.
    static let kindTable = #"""
{kinds}
"""#

    /// One message per line: `Message num:json:kind ...`. json `*`: inline (fields go to the parent object).
    /// kind: `[]T` repeated, `map<K,V>`, or T; a trailing `?` drops a zero value (Go non-pointer `omitempty`).
    static let messageTable = #"""
{messages}
"""#
}}
'''


def render(sources, kinds, lines):
    src = "\n".join(f"//   {s}" for s in sources)
    return SWIFT_TEMPLATE.format(sources=src, kinds="\n".join(kinds), messages="\n".join(lines))


def parse_swift(path):
    """Parses the generated Swift file back: (kinds, messages) as dictionaries."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r'static let (\w+) = #"""\n(.*?)\n"""#', text, re.S)
    found = dict(blocks)
    if set(found) != {"kindTable", "messageTable"}:
        sys.exit(f"{path}: expected kindTable and messageTable")
    kinds = dict(line.split(" ") for line in found["kindTable"].split("\n"))
    messages = {}
    for line in found["messageTable"].split("\n"):
        tokens = line.split(" ")
        fields = {}
        for tok in tokens[1:]:
            num, json, kind = tok.split(":", 2)
            if int(num) in fields:
                sys.exit(f"{tokens[0]}: duplicate field number {num}")
            fields[int(num)] = (json, kind)
        messages[tokens[0]] = fields
    return kinds, messages


def check(path):
    kinds, messages = parse_swift(path)
    errors = []
    for key, msg in kinds.items():
        if msg not in messages:
            errors.append(f"kind {key}: unknown message {msg}")
    for name, fields in messages.items():
        for num, (json, kind) in fields.items():
            k = kind[:-1] if kind.endswith("?") else kind
            if kind.endswith("?") and (k.startswith("[]") or k.startswith("map<") or k not in SCALARS):
                errors.append(f"{name}.{json}: `?` on a non-scalar")
            if k.startswith("[]"):
                k = k[2:]
            m = re.fullmatch(r"map<(\w+),(\w+)>", k)
            targets = [m.group(1), m.group(2)] if m else [k]
            for t in targets:
                if t not in SCALARS and t not in messages:
                    errors.append(f"{name}.{json}: unknown type {t}")
            if json == "*" and (kind.startswith("[]") or m or k in SCALARS):
                errors.append(f"{name}: inline field {num} is not a singular message")
    if errors:
        sys.exit("\n".join(errors))
    print(f"{path}: {len(kinds)} kinds, {len(messages)} messages, "
          f"{sum(len(f) for f in messages.values())} fields: OK")
    return kinds, messages


# Message name -> model name in BuiltinSchemas.swift (the Kubernetes Python client's class names), when not "V1" + name.
MODEL_NAMES = {"Event": "CoreV1Event", "EventSeries": "CoreV1EventSeries", "EventsV1Event": "EventsV1Event",
               "EventsV1EventSeries": "EventsV1EventSeries", "EndpointPort": "DiscoveryV1EndpointPort",
               "Subject": "RbacV1Subject"}


def json_fields(name, messages, seen=()):
    """JSON field names of a message of the table, inline fields expanded."""
    out = set()
    for json, kind in messages[name].values():
        if json == "*":
            target = kind.rstrip("?")
            out |= json_fields(target, messages, seen + (name,))
        else:
            out.add(json)
    return out


def compare_builtin_schemas(kinds, messages, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'static let table = #?"""\n(.*?)\n\s*"""', text, re.S)
    if not m:
        print(f"{path}: no table found, comparison skipped")
        return
    models = {}
    for line in m.group(1).split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split(" ")
        models[tokens[0]] = {tok.split(":", 1)[0] for tok in tokens[1:]}
    missing_total = 0
    for name in sorted(messages):
        if name in SPECIAL:
            continue
        model = MODEL_NAMES.get(name, "V1" + name)
        if model not in models:
            print(f"  {name}: no model {model} in BuiltinSchemas (not compared)")
            continue
        ours = json_fields(name, messages)
        theirs = models[model] - ({"apiVersion", "kind"} if name in kinds.values() else set())
        lacking = sorted(theirs - ours)
        extra = sorted(ours - theirs)
        if lacking:
            missing_total += len(lacking)
            print(f"  {name}: in the JSON schema, not in the protobuf table (dropped on decode): {' '.join(lacking)}")
        if extra:
            print(f"  {name}: in the protobuf table, not in the JSON schema: {' '.join(extra)}")
    print(f"compared with {os.path.relpath(path, REPO)}: {missing_total} JSON fields without a protobuf field")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", default="/tmp/k8s-proto/api", help="directory laid out like the k8s.io/api module")
    ap.add_argument("--apimachinery", default="/tmp/k8s-proto/apimachinery",
                    help="directory laid out like the k8s.io/apimachinery module")
    ap.add_argument("--output", default=DEFAULT_OUTPUT)
    ap.add_argument("--check", action="store_true", help="only parse the Swift file back and check it")
    ap.add_argument("--no-compare", action="store_true", help="skip the comparison with BuiltinSchemas.swift")
    args = ap.parse_args()

    if not args.check:
        messages, sources = load_all(args.api, args.apimachinery)
        reachable = build(messages)
        lines = table_lines(reachable, messages)
        rel = []
        for s in sources:
            for base, label in ((args.api, "k8s.io/api"), (args.apimachinery, "k8s.io/apimachinery")):
                if s.startswith(base.rstrip("/") + "/"):
                    with open(s, encoding="utf-8") as f:
                        first = f.readline().strip()
                    note = first[2:].strip().rstrip(":") if first.startswith("//") else ""
                    rel.append(label + "/" + os.path.relpath(s, base) + (f": {note}" if note else ""))
                    break
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(render(rel, kind_lines(reachable), lines))
        print(f"wrote {os.path.relpath(args.output, REPO)}: {len(ROOTS)} kinds, {len(lines)} messages")
    kinds, messages = check(args.output)
    if not args.no_compare and os.path.exists(BUILTIN_SCHEMAS):
        compare_builtin_schemas(kinds, messages, BUILTIN_SCHEMAS)


if __name__ == "__main__":
    main()
