import Testing
@testable import KubeCore

@Suite struct JSONTests {
    @Test func parsesAndSerializesEveryKind() throws {
        let text = #"{"a":[1,-2,3.5,1e3,true,false,null],"b":{"c":"d\"\\\/\n\t\u00e9\ud83d\ude00"},"e":9223372036854775807}"#
        let v = try JSONParser.parse(text)
        #expect(v["a"]?[0] == .int(1))
        #expect(v["a"]?[1] == .int(-2))
        #expect(v["a"]?[2] == .double(3.5))
        #expect(v["a"]?[3] == .double(1000))
        #expect(v["a"]?[6] == .null)
        #expect(v["b"]?["c"]?.stringValue == "d\"\\/\n\té😀")
        #expect(v["e"] == .int(Int64.max))
        let again = try JSONParser.parse(v.serialized())
        #expect(again == v)
    }

    @Test func bigIntegersBecomeDoubles() throws {
        #expect(try JSONParser.parse("92233720368547758080") == .double(92233720368547758080))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "tru", "[1] x", "\"\u{01}\"", "{\"a\":1,}"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func errorCarriesOffset() {
        do {
            _ = try JSONParser.parse(#"{"a": [1, 2, }"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 13)
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test func loneSurrogatesBecomeReplacementCharacters() throws {
        #expect(try JSONParser.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix(seed: 42)
        let alphabet = Array(#"{}[]":,0123456789.eE+-tfnulrsa\ "#.utf8) + [0xC3, 0xA9, 0xFF]
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let v = try? JSONParser.parse(bytes) {
                // Anything accepted must round-trip.
                #expect((try? JSONParser.parse(v.serialized())) == v)
            }
        }
    }

    @Test func serializationSortsKeysAndEscapesControlCharacters() {
        let v: JSONValue = ["b": 1, "a": "x\u{01}y"]
        #expect(v.serializedString() == #"{"a":"x\u0001y","b":1}"#)
    }

    @Test func pathSubscriptCreatesIntermediateObjects() {
        var v = JSONValue.emptyObject
        v[path: ["spec", "template", "replicas"]] = 3
        #expect(v.serializedString() == #"{"spec":{"template":{"replicas":3}}}"#)
        v[path: ["spec", "template", "replicas"]] = nil
        #expect(v.serializedString() == #"{"spec":{"template":{}}}"#)
    }
}

/// A small deterministic generator, so fuzz-style tests are reproducible.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
