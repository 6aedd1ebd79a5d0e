import Testing
@testable import KubeCore

@Suite struct CodableTests {
    static let deploymentJSON = #"""
    {"apiVersion":"apps/v1","kind":"Deployment",
     "metadata":{"name":"api","namespace":"prod","resourceVersion":"42","generation":3,
                 "creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"api"},"futureMeta":"kept"},
     "spec":{"replicas":3,"selector":{"matchLabels":{"app":"api"}},
             "template":{"metadata":{"labels":{"app":"api"}},
                         "spec":{"containers":[{"name":"api","image":"api:1","unknownContainerField":{"x":1}}],
                                 "dnsPolicy":"ClusterFirst"}},
             "strategy":{"type":"RollingUpdate"},"someNewField":true},
     "status":{"observedGeneration":3,"replicas":3,"readyReplicas":2,
               "conditions":[{"type":"Available","status":"True","lastUpdateTime":"2024-05-01T10:00:00Z"}]}}
    """#

    @Test func decodesTypedDeployment() throws {
        let d = try Deployment.decodePreserving(try JSONParser.parse(Self.deploymentJSON))
        #expect(d.metadata.name == "api")
        #expect(d.metadata.generation == 3)
        #expect(d.metadata.creationTimestamp?.rfc3339 == "2024-05-01T10:00:00Z")
        #expect(d.spec?.replicas == 3)
        #expect(d.spec?.template.spec?.containers.first?.image == "api:1")
        #expect(d.status?.readyReplicas == 2)
        #expect(d.status?.conditions?.first?.type == "Available")
    }

    @Test func unknownFieldsSurviveReadModifyWrite() throws {
        var d = try Deployment.decodePreserving(try JSONParser.parse(Self.deploymentJSON))
        d.spec?.replicas = 5
        d.spec?.template.spec?.containers[0].image = "api:2"
        d.metadata.labels = nil  // a field the model knows, cleared: must be removed
        let out = try d.mergingUnknownFields()
        #expect(out[path: ["spec", "replicas"]] == 5)
        #expect(out[path: ["spec", "someNewField"]] == true)
        #expect(out[path: ["metadata", "futureMeta"]] == "kept")
        #expect(out[path: ["metadata", "labels"]] == nil)
        #expect(out[path: ["spec", "template", "spec", "dnsPolicy"]] == "ClusterFirst")
        let container = out[path: ["spec", "template", "spec", "containers"]]?[0]
        #expect(container?["image"] == "api:2")
        #expect(container?["unknownContainerField"]?["x"] == 1)
    }

    @Test func encodingOmitsNilOptionals() throws {
        let cm = ConfigMap(metadata: ObjectMeta(name: "a", namespace: "b"), data: ["k": "v"])
        let json = try JSONValueEncoder().encode(cm)
        #expect(json.serializedString() == #"{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"a","namespace":"b"}}"#)
    }

    @Test func typeMismatchNamesThePath() throws {
        let bad = try JSONParser.parse(#"{"metadata":{"name":"x"},"spec":{"replicas":"three","selector":{},"template":{}}}"#)
        do {
            _ = try JSONValueDecoder().decode(Deployment.self, from: bad)
            Issue.record("expected a decoding error")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["spec", "replicas"])
        }
    }

    @Test func dynamicObjectKeepsEverythingAndEditsMetadata() throws {
        var o = try DynamicObject.decodePreserving(try JSONParser.parse(#"{"apiVersion":"ops.salespot.by/v1alpha1","kind":"X","metadata":{"name":"a","x-extra":1},"spec":{"n":1}}"#))
        var m = o.metadata
        m.labels = ["l": "v"]
        o.metadata = m
        #expect(o.json[path: ["metadata", "x-extra"]] == 1)
        #expect(o.json[path: ["metadata", "labels", "l"]] == "v")
        #expect(o[path: ["spec", "n"]] == 1)
    }

    @Test func timeParsesOffsetsAndFractions() throws {
        #expect(Time(rfc3339: "1970-01-01T00:00:00Z")?.secondsSince1970 == 0)
        #expect(Time(rfc3339: "2024-02-29T12:30:15+02:00")?.rfc3339 == "2024-02-29T10:30:15Z")
        let micro = try #require(Time(rfc3339: "2024-05-01T10:00:00.123456Z"))
        #expect(micro.rfc3339Micro == "2024-05-01T10:00:00.123456Z")
        #expect(Time(rfc3339: "2024-13-01T00:00:00Z") == nil)
        #expect(Time(rfc3339: "yesterday") == nil)
    }

    @Test func secretEncodesPlainData() {
        let s = Secret(metadata: ObjectMeta(name: "s"), plainData: ["password": "hunter2"])
        #expect(s.data?["password"] == "aHVudGVyMg==")
        #expect(s.decodedData["password"] == Array("hunter2".utf8))
    }
}
