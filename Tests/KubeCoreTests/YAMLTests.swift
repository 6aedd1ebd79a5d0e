import Testing
@testable import KubeCore

@Suite struct YAMLTests {
    @Test func multiDocumentStreamSkipsEmptyDocuments() throws {
        let docs = try YAML.parseAll("""
        ---
        a: 1
        ---
        # only a comment
        ---
        - x
        - "y"
        - y
        ---
        """)
        // Unquoted `y` is a boolean to kubectl (YAML 1.1), quoted it is a string.
        #expect(docs == [["a": 1], ["x", "y", true]])
    }

    @Test func scalarsResolveAsKubectlDoes() throws {
        let v = try YAML.parse("""
        t: true
        yes: yes
        off: off
        nil: null
        tilde: ~
        empty:
        int: 42
        neg: -7
        hex: 0x1F
        oct: 0o17
        legacyOct: 017
        float: 1.5
        exp: 1e3
        inf: .inf
        str: hello
        quoted: "true"
        single: '42'
        tagged: !!str 123
        version: 1.10.0
        date: 2024-05-01
        """)
        #expect(v["t"] == true)
        #expect(v["true"] == true)  // the key `yes` is itself a boolean, written as "true"
        #expect(v["false"] == false)
        #expect(v["nil"] == .null)
        #expect(v["tilde"] == .null)
        #expect(v["empty"] == .null)
        #expect(v["int"] == 42)
        #expect(v["neg"] == -7)
        #expect(v["hex"] == 31)
        #expect(v["oct"] == 15)
        #expect(v["legacyOct"] == 15)
        #expect(v["float"] == 1.5)
        #expect(v["exp"] == .double(1000))
        #expect(v["inf"] == .double(.infinity))
        #expect(v["str"] == "hello")
        #expect(v["quoted"] == "true")
        #expect(v["single"] == "42")
        #expect(v["tagged"] == "123")
        #expect(v["version"] == "1.10.0")
        #expect(v["date"] == "2024-05-01")
    }

    @Test func aKeyGivenTwiceInOneMappingIsAnErrorAsInKubectl() throws {
        #expect(throws: YAMLError.self) { try YAML.parse("spec:\n  type: array\n  type: object\n") }
        do {
            _ = try YAML.parse("a: 1\nb:\n  c: 2\n  c: 3\n")
            Issue.record("a duplicate key was accepted")
        } catch let e as YAMLError {
            #expect(e.line == 4 && e.message.contains("\"c\" already defined"), "\(e)")
        }
        // The same key in two mappings, and a merge key's keys overridden, are fine.
        #expect(try YAML.parse("a: {c: 1}\nb: {c: 2}\n")[path: ["b", "c"]] == 2)
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let v = try YAML.parse("""
        base: &base
          image: api:1
          replicas: 2
        blue:
          <<: *base
          replicas: 3
        list: [*base, *base]
        """)
        #expect(v["blue"] == ["image": "api:1", "replicas": 3])
        #expect(v["list"]?[1]?["image"] == "api:1")
    }

    @Test func blockScalarsAndFlowCollections() throws {
        let v = try YAML.parse("""
        script: |
          line one
          line two
        folded: >
          a
          b
        flow: {a: [1, 2], b: c}
        """)
        #expect(v["script"] == "line one\nline two\n")
        #expect(v["folded"] == "a b\n")
        #expect(v["flow"] == ["a": [1, 2], "b": "c"])
    }

    @Test func errorsCarryLineAndColumn() {
        do {
            _ = try YAML.parseAll("a: 1\nb: [1, 2\nc: 3\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column >= 1)
            #expect(error.description.contains("line 3"))
        }
    }

    @Test func unknownAliasIsAnError() {
        #expect(throws: YAMLError.self) { try YAML.parseAll("a: *nope\n") }
    }

    @Test func aliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        do {
            _ = try YAML.parseAll(text)
            Issue.record("expected the alias bomb to be refused")
        } catch {
            #expect(error.message.contains("aliases expand"))
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        #expect(throws: YAMLError.self) { try YAML.parseAll(deep) }
    }

    @Test func decodesIntoCodableTypes() throws {
        let cm = try YAML.decode(ConfigMap.self, from: """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          labels: {mirror: "true"}
        data:
          key: value
        """)
        #expect(cm.metadata.labels?["mirror"] == "true")
        #expect(cm.data?["key"] == "value")
    }

    @Test func mutatedYAMLNeverCrashesOrHangs() throws {
        let seed = Array("""
        apiVersion: v1
        kind: List
        items:
          - &a {name: x, value: [1, 2.5, "s", 'q', true, ~]}
          - <<: *a
            extra: |
              text
          - !!str 12
        ---
        b: >-
          folded
        """.utf8)
        let specials = Array("{}[]:,-&*!|>'\"#%@`\n\t ?~<".utf8) + [0x00, 0xC3, 0xFF]
        var rng = SplitMix(seed: 7)
        for _ in 0..<5_000 {
            var bytes = seed
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = specials[Int(rng.next() % UInt64(specials.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(specials[Int(rng.next() % UInt64(specials.count))], at: at)
                }
            }
            _ = try? YAML.parseAll(bytes)
        }
        // Reaching here means no trap and no hang; also check pure noise.
        for _ in 0..<5_000 {
            let bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? YAML.parseAll(bytes)
        }
        #expect(try YAML.parseAll(seed).count == 2)
    }
}
