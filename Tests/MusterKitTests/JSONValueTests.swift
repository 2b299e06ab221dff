import Foundation
import Testing
@testable import MusterKit

/// The one JSON writer muster owns (and its reader): what Foundation reads from its
/// text is what was parsed, types included; pretty text sorts keys, compact keeps order.
@Suite struct JSONValueTests {
    @Test func whatItReadsFoundationReadsTheSameFromWhatItWrites() throws {
        let text =
            #"{"b": true, "f": false, "i": 7, "n": -3, "d": 1.5, "e": 1e2, "z": null, "s": "a\"b\\c\nd\u0001é/\ud83d\ude00", "a": [1, "x", {"k": []}], "o": {}}"#
        let value = try JSONValue.parse(Data(text.utf8))
        #expect(
            value["i"] == .int(7) && value["n"] == .int(-3) && value["d"] == .double(1.5) && value["e"] == .double(100))
        #expect(value["z"] == .null && value["b"] == .bool(true) && value["o"] == .object([]))
        #expect(value["s"]?.stringValue == "a\"b\\c\nd\u{1}é/😀")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
        let pretty = value.prettyText
        #expect(try JSONSerialization.jsonObject(with: Data(pretty.utf8)) as? NSDictionary == reference)
        #expect(try JSONSerialization.jsonObject(with: Data(value.text.utf8)) as? NSDictionary == reference)
        #expect(
            try JSONValue.parse(Data(pretty.utf8)) == JSONValue.object(value.objectMembers!.sorted { $0.key < $1.key }))
        #expect(
            pretty.contains("\"b\": true") && pretty.contains("\"i\": 7") && pretty.contains("\"d\": 1.5"), "\(pretty)")
        #expect(pretty.contains(#""s": "a\"b\\c\nd\u0001é/😀""#), "\(pretty)")
        #expect(pretty.range(of: "\"a\"")!.lowerBound < pretty.range(of: "\"b\"")!.lowerBound, "keys sorted")
        #expect(pretty.hasPrefix("{\n  \"a\": [\n    1,\n") && pretty.hasSuffix("\n}\n"), "\(pretty)")
        // Whole numbers past Int's range are doubles, as Foundation reads them.
        #expect(try JSONValue.parse(Data("12345678901234567890".utf8)) == .double(Double("12345678901234567890")!))
        #expect(try JSONValue.parse(Data("-9223372036854775807".utf8)) == .int(-9_223_372_036_854_775_807))
    }

    @Test func compactTextKeepsTheOrderGiven() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "x"], "m": .double(0.25)]
        #expect(value.text == #"{"z":1,"a":[true,null,"x"],"m":0.25}"#)
    }

    @Test func membersAreSetReplacedAndRemoved() {
        var value: JSONValue = ["a": 1]
        value["b"] = "x"
        value["a"] = 2
        #expect(value.text == #"{"a":2,"b":"x"}"#)
        value["a"] = nil
        #expect(value.text == #"{"b":"x"}"#)
        var list: JSONValue = [1]
        list["a"] = 1
        #expect(list == [1], "only an object has members")
    }

    @Test func notJSONIsRefused() {
        for bad in ["", "{", #"{"a":}"#, "[1 2]", "nul", #""open"#, "{} x", "01", "1.", "[1e400]"] {
            #expect(throws: JSONCursor.Failure.self, "\(bad)") { try JSONValue.parse(Data(bad.utf8)) }
        }
    }

    @Test func encodableAsItIs() throws {
        let value: JSONValue = ["previous_pid": 4, "list": ["a"], "none": nil]
        let encoded = try JSONValue.parse(ControlJSON.encode(value))
        #expect(encoded["previous_pid"] == 4 && encoded["list"] == ["a"] && encoded["none"] == .null)
    }
}
