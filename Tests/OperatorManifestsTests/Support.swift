import Foundation
import KubeCore
import LocalCluster
import TestSupport

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let sharedPKI: String = NSTemporaryDirectory() + "salespot-manifests-pki-\(getpid())"
let overlays = ["dev", "staging", "production"]

/// `kubectl kustomize` of a directory under manifests/, as YAML documents.
func kustomize(_ path: String) async throws -> (yaml: String, docs: [JSONValue]) {
    let r = try await runAsync(try requireTool("kubectl"), ["kustomize", repository + "/manifests/" + path])
    guard r.status == 0 else { throw TestFailure("kubectl kustomize manifests/\(path) failed: \(r.err)") }
    return (r.out, try YAML.parseAll(r.out))
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A tool the repository installs into its own venv (scripts/install-deps.sh test).
func venvTool(_ name: String) throws -> String {
    let path = repository + "/.venv/bin/" + name
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw TestFailure("\(name) is not installed in \(repository)/.venv: run scripts/install-deps.sh test")
    }
    return path
}

/// kubectl against a LocalCluster, with a discovery cache of its own.
func kubectl(_ cluster: LocalCluster, _ args: [String], kubeconfig: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    let cache = NSTemporaryDirectory() + "kubectl-cache-\(cluster.port)"
    return try await runAsync(try requireTool("kubectl"), ["--kubeconfig", kubeconfig ?? cluster.kubeconfigPath, "--cache-dir", cache] + args)
}

/// The `salespot-operator` built beside the test binary.
var operatorExecutable: String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("salespot-operator").path
}

/// The metric names the operator declares (`registry.declare("NAME", ...)` / `r.declare(...)` in Sources/).
func declaredMetrics() throws -> Set<String> {
    var names = Set<String>()
    let e = FileManager.default.enumerator(atPath: repository + "/Sources")
    while let f = e?.nextObject() as? String {
        guard f.hasSuffix(".swift") else { continue }
        let text = try String(contentsOfFile: repository + "/Sources/" + f, encoding: .utf8)
        var rest = Substring(text)
        while let r = rest.range(of: "declare(\"") {
            rest = rest[r.upperBound...]
            if let end = rest.firstIndex(of: "\"") { names.insert(String(rest[..<end])) }
        }
    }
    return names
}

/// Metric names a PromQL expression uses (identifiers followed by `{`, `[`, `)` or an operator that are not
/// functions, keywords or label names), with histogram suffixes taken off.
func metricNames(in expr: String) -> Set<String> {
    let keywords: Set<String> = ["sum", "by", "without", "on", "ignoring", "group_left", "group_right", "rate", "increase", "irate", "max", "min",
                                 "avg", "count", "topk", "bottomk", "histogram_quantile", "time", "absent", "and", "or", "unless", "bool",
                                 "le", "offset", "clamp_min", "clamp_max", "label_values", "delta", "deriv", "abs", "vector", "scalar"]
    var names = Set<String>()
    var labels = false
    var i = expr.startIndex
    while i < expr.endIndex {
        let c = expr[i]
        if c == "{" { labels = true } else if c == "}" { labels = false }
        if c == "\"" {  // skip strings
            i = expr.index(after: i)
            while i < expr.endIndex && expr[i] != "\"" { i = expr.index(after: i) }
        } else if !labels && (c.isLetter || c == "_") {
            var j = i
            while j < expr.endIndex && (expr[j].isLetter || expr[j].isNumber || expr[j] == "_" || expr[j] == ":") { j = expr.index(after: j) }
            let word = String(expr[i..<j])
            var k = j
            while k < expr.endIndex && expr[k] == " " { k = expr.index(after: k) }
            let isCall = k < expr.endIndex && expr[k] == "("
            let afterBy = expr[..<i].hasSuffix("by (") || expr[..<i].hasSuffix("on (")
            let variable = expr[..<i].hasSuffix("$")
            if !isCall && !keywords.contains(word) && !afterBy && !variable && word.contains("_") {
                var base = word
                for suffix in ["_bucket", "_sum", "_count"] where base.hasSuffix(suffix) { base = String(base.dropLast(suffix.count)) }
                names.insert(base)
            }
            i = j
            continue
        }
        i = expr.index(after: i)
    }
    return names
}
