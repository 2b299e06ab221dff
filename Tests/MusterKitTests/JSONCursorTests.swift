import Foundation
import Testing
@testable import MusterKit

/// The JSON reader of large test reports: it accepts what JSON is and refuses
/// what it is not, as Foundation's JSONSerialization does, and decodes strings
/// and numbers to the same values.
@Suite struct JSONCursorTests {
    /// Skips one whole value; nil when it is accepted, else the failure.
    func check(_ text: String) -> JSONCursor.Failure? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            var cursor = JSONCursor(UnsafeRawBufferPointer(raw))
            do {
                try cursor.skip()
                try cursor.end()
                return nil
            } catch let failure as JSONCursor.Failure {
                return failure
            } catch {
                return JSONCursor.Failure(what: "\(error)", offset: -1)
            }
        }
    }

    func foundationAccepts(_ text: String) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil
    }

    static let valid = [
        #"{}"#, #"[]"#, #" { "a" : [ 1 , -2.5e3 , true , false , null , "x" ] } "#, #"0"#, #"-0"#, #"0.5"#,
        #"1E+2"#, #"1e-2"#, #""\u00e9\ud83d\ude00\n\t\"\\\/""#, #"[[[[[]]]]]"#, #"{"a":{"b":{"c":[{}]}}}"#,
        "\"caf\u{e9}\"", "[1,]", #"{"a":1,}"#, #"123456789012345678901234567890"#,
    ]
    static let invalid = [
        "", " ", "{", "[", "}", "[,1]", "[1,,]", #"{"a" 1}"#, #"{1:2}"#, "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "True", #""abc"#, "\"a\tb\"", #""\x""#, #""\u12g4""#, "[1 2]", #"{"a":1 "b":2}"#, "1 2", "[1]]",
        "NaN", "'a'", #"{"a":}"#,
    ]

    @Test(arguments: valid) func acceptsJSON(_ text: String) {
        #expect(check(text) == nil, "\(text): \(String(describing: check(text)))")
        #expect(foundationAccepts(text), "Foundation disagrees on \(text)")
    }

    @Test(arguments: invalid) func refusesWhatIsNotJSON(_ text: String) {
        #expect(check(text) != nil, "accepted \(text)")
        #expect(!foundationAccepts(text), "Foundation disagrees on \(text)")
    }

    /// Lenient where Foundation is strict: a lone surrogate escape reads as U+FFFD
    /// (a test report with a cut emoji in a title is still worth reading).
    @Test func aLoneSurrogateBecomesTheReplacementCharacter() throws {
        var bytes = Array(#""a\ud800b""#.utf8)
        try bytes.withUnsafeMutableBytes { raw in
            var cursor = JSONCursor(UnsafeRawBufferPointer(raw))
            let text = try cursor.string()
            #expect(text == "a\u{FFFD}b")
        }
    }

    @Test func nestingIsBounded() {
        let deep =
            String(repeating: "[", count: JSONCursor.maxDepth + 1)
            + String(repeating: "]", count: JSONCursor.maxDepth + 1)
        #expect(check(deep)?.what.contains("nested deeper") == true)
        let allowed =
            String(repeating: "[", count: JSONCursor.maxDepth) + String(repeating: "]", count: JSONCursor.maxDepth)
        #expect(check(allowed) == nil)
    }

    @Test func stringsAndNumbersDecodeAsFoundationDoes() throws {
        let text = #"{"s": "a\"b\\c\/d\u00e9\ud83d\ude00\n", "plain": "日本語", "n": -12.5e2, "i": 42, "big": 1.5e300}"#
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBytes { raw in
            var cursor = JSONCursor(UnsafeRawBufferPointer(raw))
            var members = try cursor.beginObject()
            var seen: [String] = []
            while let key = try cursor.nextKey(&members) {
                seen.append(key)
                switch key {
                case "s", "plain":
                    let text = try cursor.string()
                    #expect(text == expected[key] as? String)
                case "i":
                    let whole = try cursor.integer()
                    #expect(whole == 42)
                default:
                    let number = try cursor.number()
                    #expect(number == (expected[key] as? NSNumber)?.doubleValue)
                }
            }
            try cursor.end()
            #expect(seen == ["s", "plain", "n", "i", "big"])
        }
    }

    @Test func aValueOfAnotherTypeIsAMismatchWithItsPlace() throws {
        var bytes = Array(#"{"a": [1]}"#.utf8)
        try bytes.withUnsafeMutableBytes { raw in
            var cursor = JSONCursor(UnsafeRawBufferPointer(raw))
            var members = try cursor.beginObject()
            _ = try cursor.nextKey(&members)
            do {
                _ = try cursor.string()
                Issue.record("read an array as a string")
            } catch let failure as JSONCursor.Failure {
                #expect(JSONCursor.isMismatch(failure))
                #expect(failure.what == "expected a string, found an array" && failure.offset == 6, "\(failure)")
            }
        }
        #expect(check("[1 2]").map(JSONCursor.isMismatch) == false)
    }
}
