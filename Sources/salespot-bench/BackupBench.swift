import Foundation
import ObjectStore

/// `salespot-bench s3-put`: streams standard input into one S3 object with the operator's multipart writer and
/// prints throughput and peak RSS (the shell benchmark compares it with `aws s3 cp -` on the same server).
/// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
func s3PutBench(endpoint: String, bucket: String, key: String, partMiB: Int) async throws {
    let env = ProcessInfo.processInfo.environment
    let client = try S3Client(S3Endpoint(endpoint: endpoint, bucket: bucket, pathStyle: true),
                              credentials: AWSCredentials(accessKeyId: env["AWS_ACCESS_KEY_ID"] ?? "", secretAccessKey: env["AWS_SECRET_ACCESS_KEY"] ?? ""))
    let writer = ObjectWriter(client: client, key: key, partSize: partMiB << 20)
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    let start = ContinuousClock.now
    while true {
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 { throw POSIXError(.EIO) }
        if n == 0 { break }
        try await writer.write(Array(buffer[0..<n]))
    }
    let (size, sha) = try await writer.finish()
    let seconds = (ContinuousClock.now - start) / .seconds(1)
    print(String(format: "s3-put: %.0f MiB in %.2f s = %.1f MiB/s; peak RSS %.1f MiB; sha256 %@", Double(size) / 1_048_576, seconds,
                 Double(size) / 1_048_576 / seconds, peakRSSMiB(), sha))
}
