import Foundation
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// One CA and serving certificate for every cluster the tests start.
let sharedPKI: String = {
    let dir = NSTemporaryDirectory() + "salespot-test-pki-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Starts a LocalCluster for one test, with fast workload simulation.
func startCluster(_ configure: (inout LocalCluster.Options) -> Void = { _ in }) async throws -> LocalCluster {
    var options = LocalCluster.Options()
    options.pkiDirectory = sharedPKI
    options.deploymentReadyDelay = .milliseconds(50)
    options.jobDuration = .milliseconds(50)
    configure(&options)
    return try await LocalCluster.start(options)
}

extension LocalCluster {
    func client(clock: ManualClock? = nil) -> KubeClient {
        if let clock { return KubeClient(configuration: clientConfiguration(), clock: clock) }
        return KubeClient(configuration: clientConfiguration())
    }

    /// Runs the real kubectl against this cluster.
    @discardableResult
    func kubectl(_ args: String..., stdin: String? = nil) async throws -> (status: Int32, out: String, err: String) {
        try await kubectl(args, stdin: stdin)
    }

    @discardableResult
    func kubectl(_ args: [String], stdin: String? = nil) async throws -> (status: Int32, out: String, err: String) {
        let kubectl = try requireTool("kubectl")
        var argv = args
        var file: String?
        if let stdin {
            let f = NSTemporaryDirectory() + "stdin-\(UUID().uuidString).yaml"
            try stdin.write(toFile: f, atomically: true, encoding: .utf8)
            argv = args.map { $0 == "-" ? f : $0 }
            file = f
        }
        defer { if let file { try? FileManager.default.removeItem(atPath: file) } }
        // A discovery cache of this cluster's own: a cache kept from an earlier server on the same port would describe
        // another server's resources.
        return try await runAsync(kubectl, ["--kubeconfig", kubeconfigPath, "--cache-dir", kubeconfigPath + ".kubectl-cache"] + argv, env: ["HOME": NSTemporaryDirectory()])
    }
}

let widgetCRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.salespot.by
spec:
  group: example.salespot.by
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, blue], default: red}
              name: {type: string, pattern: '^[a-z]+$', maxLength: 8}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""

let widgetResource = ResourceDescriptor(group: "example.salespot.by", version: "v1", resource: "widgets", kind: "Widget", namespaced: true)

func widget(_ name: String, size: Int) -> String {
    """
    apiVersion: example.salespot.by/v1
    kind: Widget
    metadata: {name: \(name)}
    spec: {size: \(size)}
    """
}
