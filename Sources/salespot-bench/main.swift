import KubeClient
import KubeCore
import Foundation
let d = "/tmp/tlsdbg/"
func f(_ n: String) -> [UInt8] { Array(FileManager.default.contents(atPath: d + n)!) }
let t = CurlTransport(tls: TLSConfiguration(caPEM: f("ca.crt"), clientIdentity: TLSIdentity(certificatePEM: f("client.crt"), keyPEM: f("client.key"))))
print("sending")
let r = try await t.send(HTTPRequest(method: "GET", url: "https://127.0.0.1:32933/"))
print(r.status, String(decoding: r.body, as: UTF8.self))
print("second")
let r2 = try await t.send(HTTPRequest(method: "GET", url: "https://127.0.0.1:32933/?gzip=1"))
print(r2.status, String(decoding: r2.body, as: UTF8.self))
let r3 = try await t.send(HTTPRequest(method: "GET", url: "https://127.0.0.1:32933/"))
print(r3.status, String(decoding: r3.body, as: UTF8.self))
