/// DNS messages on the wire (RFC 1035 §4, RFC 2136 §2): what a dynamic update and its read-back need, no more.
/// Names are written uncompressed; answers are read with compression pointers followed (bounded, so a hostile
/// answer cannot loop).
public struct DNSMessage: Sendable, Equatable {
    public var id: UInt16
    /// QR, opcode, AA, TC, RD, RA, Z and RCODE bits as sent.
    public var flags: UInt16
    /// Question (a query) or zone (an update) section.
    public var questions: [Question]
    /// Answer (a query) or prerequisite (an update) section.
    public var answers: [Record]
    /// Authority (a query) or update (an update) section.
    public var authority: [Record]
    public var additional: [Record]

    public struct Question: Sendable, Equatable {
        public var name: String
        public var type: UInt16
        public var rrClass: UInt16
    }

    public struct Record: Sendable, Equatable {
        public var name: String
        public var type: UInt16
        public var rrClass: UInt16
        public var ttl: UInt32
        public var data: [UInt8]
        public init(name: String, type: UInt16, rrClass: UInt16, ttl: UInt32, data: [UInt8]) {
            self.name = name
            self.type = type
            self.rrClass = rrClass
            self.ttl = ttl
            self.data = data
        }
    }

    public init(id: UInt16, flags: UInt16, questions: [Question] = [], answers: [Record] = [], authority: [Record] = [], additional: [Record] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
    }

    public var opcode: UInt16 { (flags >> 11) & 0xF }
    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var truncated: Bool { flags & 0x0200 != 0 }
    public var rcode: UInt16 { flags & 0xF }

    // RFC 1035 §3.2 and RFC 2136 §1.
    public enum RRType {
        public static let a: UInt16 = 1, ns: UInt16 = 2, cname: UInt16 = 5, soa: UInt16 = 6, aaaa: UInt16 = 28, tsig: UInt16 = 250
    }
    public enum RRClass {
        public static let `in`: UInt16 = 1, none: UInt16 = 254, any: UInt16 = 255
    }
    public enum Opcode {
        public static let query: UInt16 = 0, update: UInt16 = 5
    }

    // MARK: Encoding

    public func encoded() throws -> [UInt8] {
        var w = WireWriter()
        w.u16(id)
        w.u16(flags)
        w.u16(UInt16(questions.count))
        w.u16(UInt16(answers.count))
        w.u16(UInt16(authority.count))
        w.u16(UInt16(additional.count))
        for q in questions {
            try w.name(q.name)
            w.u16(q.type)
            w.u16(q.rrClass)
        }
        for r in answers + authority + additional { try w.record(r) }
        return w.bytes
    }

    // MARK: Decoding

    public static func decode(_ bytes: [UInt8]) throws -> DNSMessage {
        var r = WireReader(bytes)
        let id = try r.u16(), flags = try r.u16()
        let qd = try r.u16(), an = try r.u16(), ns = try r.u16(), ar = try r.u16()
        var m = DNSMessage(id: id, flags: flags)
        for _ in 0..<qd { m.questions.append(Question(name: try r.name(), type: try r.u16(), rrClass: try r.u16())) }
        for _ in 0..<an { m.answers.append(try r.record()) }
        for _ in 0..<ns { m.authority.append(try r.record()) }
        for _ in 0..<ar { m.additional.append(try r.record()) }
        return m
    }
}

/// Why a message could not be built or read.
public struct DNSWireError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

struct WireWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    mutating func u32(_ v: UInt32) { bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    mutating func u48(_ v: UInt64) { for shift in stride(from: 40, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(shift)) & 0xFF)) } }

    /// A name, uncompressed; `lowercased` for TSIG's canonical form (RFC 8945 §4.3.2).
    mutating func name(_ name: String, lowercased: Bool = false) throws {
        bytes += try DNSName.wire(lowercased ? name.lowercased() : name)
    }

    mutating func record(_ r: DNSMessage.Record) throws {
        try name(r.name)
        u16(r.type)
        u16(r.rrClass)
        u32(r.ttl)
        guard r.data.count <= 65_535 else { throw DNSWireError("record data too long") }
        u16(UInt16(r.data.count))
        bytes += r.data
    }
}

struct WireReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw DNSWireError("message ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() throws -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }
    mutating func u48() throws -> UInt64 { UInt64(try u16()) << 32 | UInt64(try u32()) }
    mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else { throw DNSWireError("message ends early") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// A name, following compression pointers (at most 64 jumps, each to an earlier offset).
    mutating func name() throws -> String {
        let (name, end) = try DNSName.read(bytes, at: offset)
        offset = end
        return name
    }

    mutating func record() throws -> DNSMessage.Record {
        let name = try name()
        let type = try u16(), rrClass = try u16(), ttl = try u32()
        let length = Int(try u16())
        let start = offset
        var data = try take(length)
        // Names inside the data of these types may be compressed: written out here, so the data stands alone.
        if length == 0 {
            // No data (a delete or "does not exist" record echoed back): nothing to write out.
        } else if type == DNSMessage.RRType.cname || type == DNSMessage.RRType.ns {
            data = try DNSName.wire(try DNSName.read(bytes, at: start).name)
        } else if type == DNSMessage.RRType.soa {
            var r = WireReader(bytes)
            r.offset = start
            let mname = try r.name(), rname = try r.name()
            let rest = try r.take(20)
            data = try DNSName.wire(mname) + DNSName.wire(rname) + rest
        }
        return DNSMessage.Record(name: name, type: type, rrClass: rrClass, ttl: ttl, data: data)
    }
}

/// Domain names: text (`www.example.org.`, absolute, case kept) to and from the wire.
public enum DNSName {
    /// The wire form of an absolute name (a trailing dot is implied if missing).
    public static func wire(_ name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty else { throw DNSWireError("name \(name) has an empty label") }
                guard bytes.count <= 63 else { throw DNSWireError("name \(name) has a label over 63 bytes") }
                out.append(UInt8(bytes.count))
                out += bytes
            }
        }
        out.append(0)
        guard out.count <= 255 else { throw DNSWireError("name \(name) is over 255 bytes") }
        return out
    }

    /// The name at `offset` and the offset just after it (after the first pointer, if any).
    static func read(_ bytes: [UInt8], at offset: Int) throws -> (name: String, end: Int) {
        var labels: [String] = []
        var i = offset
        var end: Int?
        var jumps = 0
        while true {
            guard i < bytes.count else { throw DNSWireError("name runs past the message") }
            let len = Int(bytes[i])
            if len == 0 {
                i += 1
                break
            }
            if len & 0xC0 == 0xC0 {
                guard i + 1 < bytes.count else { throw DNSWireError("name runs past the message") }
                let target = (len & 0x3F) << 8 | Int(bytes[i + 1])
                if end == nil { end = i + 2 }
                jumps += 1
                guard jumps <= 64, target < i else { throw DNSWireError("bad compression pointer") }
                i = target
                continue
            }
            guard len <= 63, i + 1 + len <= bytes.count else { throw DNSWireError("bad label") }
            labels.append(String(decoding: bytes[(i + 1)...(i + len)], as: UTF8.self))
            i += 1 + len
        }
        return (labels.isEmpty ? "." : labels.joined(separator: ".") + ".", end ?? i)
    }

    /// `name` as an absolute name, lowercased (the form names are compared in).
    public static func canonical(_ name: String) -> String {
        let n = name.lowercased()
        return n.hasSuffix(".") ? n : n + "."
    }
}
