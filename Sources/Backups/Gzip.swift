import CZlib

/// Streaming gzip (RFC 1952) through zlib: bytes in, compressed bytes out, a fixed 256 KiB output buffer.
final class GzipStream {
    enum Mode { case compress(level: Int32), decompress }
    private var stream = z_stream()
    private let mode: Mode
    private var output = [UInt8](repeating: 0, count: 256 << 10)
    private var ended = false

    init(_ mode: Mode) throws {
        self.mode = mode
        let rc: Int32
        switch mode {
        case .compress(let level):
            // 15 + 16: a gzip header and trailer instead of zlib's.
            rc = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        case .decompress:
            rc = inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        }
        guard rc == Z_OK else { throw BackupError.runner("zlib cannot start (\(rc))") }
    }

    deinit {
        switch mode {
        case .compress: deflateEnd(&stream)
        case .decompress: inflateEnd(&stream)
        }
    }

    /// Feeds `input`; `sink` receives every piece of output produced. `finish` flushes the end of the stream.
    func process(_ input: UnsafeRawBufferPointer, finish: Bool = false, _ sink: (UnsafeRawBufferPointer) async throws -> Void) async throws {
        guard !ended else {
            if input.isEmpty { return }
            throw BackupError.runner("data after the end of the gzip stream")
        }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        while true {
            let (rc, produced): (Int32, Int) = output.withUnsafeMutableBytes { out in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(out.count)
                let rc: Int32
                switch mode {
                case .compress: rc = deflate(&stream, finish ? Z_FINISH : Z_NO_FLUSH)
                case .decompress: rc = inflate(&stream, Z_NO_FLUSH)
                }
                return (rc, out.count - Int(stream.avail_out))
            }
            if produced > 0 {
                let copy = output  // the sink may suspend; hand it a stable buffer
                try await withStableBytes(copy) { try await sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            switch rc {
            case Z_STREAM_END:
                ended = true
                if stream.avail_in > 0, case .decompress = mode { throw BackupError.runner("data after the end of the gzip stream") }
                return
            case Z_OK, Z_BUF_ERROR:
                // More output pending only when the buffer filled up; otherwise all input is consumed.
                if produced == output.count { continue }
                if stream.avail_in == 0 && !finish { return }
                if rc == Z_BUF_ERROR && !finish { return }
                if rc == Z_BUF_ERROR, case .decompress = mode { throw BackupError.runner("the gzip stream is truncated") }
            default:
                throw BackupError.runner("the gzip stream is corrupt (zlib \(rc))")
            }
        }
    }

    /// For decompression: whether the whole gzip stream (with its CRC) has been read.
    var isComplete: Bool { ended }
}
