import Foundation
import Testing
@testable import MusterKit

/// The mutations: structural edits of lines, byte-level damage, and values of the
/// wrong type or shape in the places the stack format gives meaning to.
struct StackMutator {
    var rng: SplitMix64
    var lines: [String]
    var text: String {
        get { lines.joined(separator: "\n") }
        set { lines = Self.lines(newValue) }
    }

    /// Split at every LF, including the LF of a CRLF (one Character to `split`).
    static func lines(_ text: String) -> [String] {
        text.components(separatedBy: "\n")
    }

    enum Mutation: String, CaseIterable {
        case deleteLine, duplicateLine, swapLines, moveLine, reindent, addTab, removeColon, quoteBreak
        case truncate, deleteRange, insertBytes, insertInvalidUTF8, insertUnicode, lineEndings
        case replaceValue, emptyValue, multilineValue, swapValues, misspellKey, otherKey, duplicateFlowKey
        case unterminatedInterpolation, badInterpolation, nestedDefaults
        case deepFlow, deepBlock, longString, longKey
        case mutateDuration, mutatePort, mutateSignal, mutateNumber, mutatePath
        case yamlSyntax, aliasBomb, spliceLine, documentMarkers
    }

    /// Mutations that mostly keep the YAML well-formed come twice, so that more mutants
    /// get past the YAML parser into the stack checks.
    static let weighted =
        Mutation.allCases + [
            .replaceValue, .emptyValue, .swapValues, .misspellKey, .otherKey, .unterminatedInterpolation,
            .badInterpolation,
            .mutateDuration, .mutatePort, .mutateSignal, .mutateNumber, .mutatePath, .spliceLine, .deleteLine,
            .multilineValue,
        ]

    /// Applies one random mutation and returns its name.
    mutating func mutateOnce() -> String {
        let mutation = rng.pick(Self.weighted)
        apply(mutation)
        lines = Self.lines(text)  // re-split lines that gained line breaks; never leaves zero lines
        return mutation.rawValue
    }

    mutating func apply(_ mutation: Mutation) {
        switch mutation {
        case .deleteLine: lines.remove(at: anyLine())
        case .duplicateLine:
            let line = anyLine()
            lines.insert(lines[line], at: line + 1)
        case .swapLines: lines.swapAt(anyLine(), anyLine())
        case .moveLine:
            let line = lines.remove(at: anyLine())
            lines.insert(line, at: rng.below(lines.count + 1))
        case .reindent:
            let line = anyLine()
            let body = lines[line].drop { $0 == " " }
            let indent = lines[line].count - body.count
            let newIndent = rng.chance(50) ? max(0, indent + rng.pick([-4, -2, -1, 1, 2, 4])) : rng.below(13)
            lines[line] = String(repeating: " ", count: newIndent) + body
        case .addTab:
            let line = anyLine()
            if rng.chance(50) {
                lines[line] = "\t" + lines[line].drop { $0 == " " }
            } else {
                insert("\t", intoLine: line)
            }
        case .removeColon:
            let line = keyLine()
            if let colon = lines[line].firstIndex(of: ":") { lines[line].remove(at: colon) }
        case .quoteBreak:
            insert(
                rng.pick([
                    "\"", "'", "`", "\\", "#", "&", "*", "!", "|", ">", "%", "@", "[", "]", "{", "}", ",", "? ", "- ",
                    ": ",
                ]),
                intoLine: anyLine())
        case .truncate:
            let bytes = Array(text.utf8)
            text = String(decoding: bytes.prefix(rng.below(bytes.count + 1)), as: UTF8.self)
        case .deleteRange:
            var scalars = Array(text.unicodeScalars)
            let start = rng.below(scalars.count + 1)
            scalars.removeSubrange(start..<min(scalars.count, start + 1 + rng.below(40)))
            text = String(String.UnicodeScalarView(scalars))
        case .insertBytes:
            let bytes = (0...rng.below(8)).map { _ in UInt8(rng.below(0x80)) }
            insertScalars(String(decoding: bytes, as: UTF8.self))
        case .insertInvalidUTF8:
            // Repaired to U+FFFD on the way in, as `load` refuses files that are not UTF-8.
            let bytes = (0...rng.below(4)).map { _ in UInt8(0x80 + rng.below(0x80)) }
            insertScalars(String(decoding: bytes, as: UTF8.self))
        case .insertUnicode:
            insertScalars(
                rng.pick([
                    "\u{0}", "\u{7F}", "\u{1B}[31m", "\u{FEFF}", "\u{85}", "\u{2028}", "\u{2029}", "\u{200B}",
                    "\u{200D}",
                    "\u{202E}", "\u{301}", "e\u{301}", "\u{FFFD}", "\u{FFFE}", "\u{10FFFF}", "\u{1F680}", "🇫🇷", "\r",
                    "\u{A0}", "\u{3000}", "ー", "Ω", "ſ", "İ", "ß", "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                ]))
        case .lineEndings:
            if rng.chance(50) {
                text = text.replacingOccurrences(of: "\n", with: "\r\n")
            } else {
                lines[anyLine()] += rng.pick(["\r", " ", "\t", "  # comment", " #", "\\"])
            }
        case .replaceValue: setValue(rng.pick(Self.foreignValues))
        case .emptyValue: setValue("")
        case .multilineValue: setValue(rng.pick(Self.multilineValues))
        case .swapValues:
            let (first, second) = (keyLine(), keyLine())
            guard let a = valueRange(first), let b = valueRange(second) else { break }
            let (valueA, valueB) = (String(lines[first][a]), String(lines[second][b]))
            lines[first].replaceSubrange(a, with: valueB)
            if let b = valueRange(second) { lines[second].replaceSubrange(b, with: valueA) }
        case .misspellKey: misspellKey()
        case .otherKey:
            let line = keyLine()
            if let key = keyRange(line) { lines[line].replaceSubrange(key, with: rng.pick(Self.knownKeys)) }
        case .duplicateFlowKey: duplicateFlowKey()
        case .unterminatedInterpolation:
            let line = keyLine()
            guard let value = valueRange(line) else { break }
            let offset = rng.below(lines[line][value].count + 1)
            let at = lines[line].index(value.lowerBound, offsetBy: offset)
            lines[line].insert(
                contentsOf: rng.pick(["${", "${FUZZ_LEVEL", "${db.url", "${X:-", "${X:-${Y}", "$", "${{", "$}", "${}"]),
                at: at)
        case .badInterpolation: setValue(rng.pick(Self.interpolations))
        case .nestedDefaults:
            let depth = rng.pick([2, 10, 65, 300, 2_000, 20_000])
            let body = String(repeating: "${FUZZ_UNSET:-", count: depth) + "x" + String(repeating: "}", count: depth)
            setValue(rng.pick(["\"\(body)\"", "'\(body)'", "it's \(body)", body]))
        case .deepFlow:
            let depth = rng.pick([3, 63, 64, 65, 200, 999, 5_000])
            let (open, close) = rng.pick([("[", "]"), ("{a: ", "}"), ("[{x: ", "}]")])
            let closing = rng.chance(80) ? String(repeating: close, count: depth) : ""
            setValue(String(repeating: open, count: depth) + "1" + closing)
        case .deepBlock: deepBlock()
        case .longString:
            let unit = rng.pick(["a", "$", "é", "🚀", "\\", "{", "${FUZZ_LEVEL}", "x ", "%", "\u{301}"])
            // Not longer: "did you mean" on a value of 250 000 characters already takes a second.
            let body = String(repeating: unit, count: rng.pick([1_000, 10_000, 20_000]))
            setValue(rng.pick([body, "\"\(body)\"", "[\(body)]"]))
        case .longKey:
            let line = keyLine()
            if let key = keyRange(line) {
                lines[line].replaceSubrange(
                    key,
                    with: String(repeating: rng.pick(["k", "x-", "é", "_"]), count: rng.pick([100, 1_000, 20_000])))
            }
        case .mutateDuration:
            setValue(rng.pick(Self.durations), ofKeys: ["interval", "timeout", "start_timeout", "stop_timeout"])
        case .mutatePort: setValue(rng.pick(Self.ports), ofKeys: ["port", "tcp", "http"])
        case .mutateSignal: setValue(rng.pick(Self.signals), ofKeys: ["stop_signal"])
        case .mutatePath: setValue(rng.pick(Self.paths), ofKeys: ["env_file", "working_dir", "bin"])
        case .mutateNumber:
            setValue(
                rng.pick(Self.numbers),
                ofKeys: ["max_restarts", "failures", "partitions", "replication_factor", "max_connections"])
        case .yamlSyntax:
            lines.insert(rng.pick(Self.yamlSnippets), at: rng.below(lines.count + 1))
        case .aliasBomb: aliasBomb()
        case .spliceLine:
            let donor = Self.lines(rng.pick(FuzzSeeds.all).text)
            lines.insert(rng.pick(donor), at: rng.below(lines.count + 1))
        case .documentMarkers:
            switch rng.below(4) {
            case 0: lines.insert("---", at: 0)
            case 1: lines.append(contentsOf: ["---", "services: { b: { command: \"true\" } }"])
            case 2: lines.insert("...", at: rng.below(lines.count + 1))
            default:
                lines.insert(
                    rng.pick(["%YAML 1.2", "%YAML 1.1", "%YAML 9.9", "%TAG !e! tag:example.com,2000:", "%FOO bar"])
                        + "\n---", at: 0)
            }
        }
    }

    // MARK: - Positions

    mutating func anyLine() -> Int { rng.below(lines.count) }

    /// A line holding `key: value` (or `- key: value`), or any line when there is none.
    mutating func keyLine() -> Int {
        let candidates = lines.indices.filter { keyRange($0) != nil }
        return candidates.isEmpty ? anyLine() : rng.pick(candidates)
    }

    func keyRange(_ line: Int) -> Range<String.Index>? {
        let text = lines[line]
        var start = text.firstIndex { $0 != " " } ?? text.endIndex
        if text[start...].hasPrefix("- ") { start = text.index(start, offsetBy: 2) }
        guard let colon = text[start...].firstIndex(of: ":"), colon > start, !text[start...].hasPrefix("#"),
            text[start..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) })
        else { return nil }
        return start..<colon
    }

    /// What follows `key:` up to the end of the line (empty at the end of a `key:` line).
    func valueRange(_ line: Int) -> Range<String.Index>? {
        guard let key = keyRange(line) else { return nil }
        let text = lines[line]
        var start = text.index(after: key.upperBound)
        while start < text.endIndex, text[start] == " " { start = text.index(after: start) }
        return start..<text.endIndex
    }

    mutating func setValue(_ value: String, ofKeys keys: [String]? = nil) {
        var line = keyLine()
        if let keys {
            let matching = lines.indices.filter { index in
                keyRange(index).map { keys.contains(String(lines[index][$0])) } ?? false
            }
            if !matching.isEmpty { line = rng.pick(matching) }
        }
        // Continuation lines go below the key, as a block scalar or nested block needs.
        let indent = String(repeating: " ", count: lines[line].prefix { $0 == " " }.count + 2)
        let value = value.replacingOccurrences(of: "\n", with: "\n" + indent)
        guard let range = valueRange(line) else {
            lines[line] += " " + value
            return
        }
        lines[line].replaceSubrange(range, with: value)
    }

    mutating func insert(_ fragment: String, intoLine line: Int) {
        let offset = rng.below(lines[line].count + 1)
        lines[line].insert(contentsOf: fragment, at: lines[line].index(lines[line].startIndex, offsetBy: offset))
    }

    /// Inserts between Unicode scalars, so combining marks may attach to their neighbour.
    mutating func insertScalars(_ fragment: String) {
        var scalars = Array(text.unicodeScalars)
        scalars.insert(contentsOf: fragment.unicodeScalars, at: rng.below(scalars.count + 1))
        text = String(String.UnicodeScalarView(scalars))
    }

    // MARK: - Larger mutations

    mutating func misspellKey() {
        let line = keyLine()
        guard let range = keyRange(line) else { return }
        var key = Array(lines[line][range])
        let at = rng.below(key.count)
        switch rng.below(7) {
        case 0: key.remove(at: at)
        case 1: key.insert(key[at], at: at)
        case 2: if key.count > 1 { key.swapAt(at, at == key.count - 1 ? at - 1 : at + 1) }
        case 3: key = Array(String(key).uppercased())
        case 4: key = Array(String(key).replacingOccurrences(of: "_", with: "-"))
        case 5: key.insert(contentsOf: rng.pick(["x-", "-", " ", "\""]), at: rng.chance(50) ? 0 : key.count)
        default: key[at] = rng.pick(["q", "0", "_", "é", "K"])
        }
        lines[line].replaceSubrange(range, with: String(key))
    }

    mutating func duplicateFlowKey() {
        let candidates = lines.indices.filter { lines[$0].contains("{") && lines[$0].contains(":") }
        guard !candidates.isEmpty else { return apply(.duplicateLine) }
        let line = rng.pick(candidates)
        let text = lines[line]
        let open = text.index(after: text.firstIndex(of: "{")!)
        let end = text[open...].firstIndex { $0 == "," || $0 == "}" } ?? text.endIndex
        let pair = text[open..<end].trimmingCharacters(in: .whitespaces)
        guard !pair.isEmpty else { return }
        lines[line].insert(contentsOf: " \(pair),", at: open)
    }

    mutating func deepBlock() {
        let line = keyLine()
        let indent = lines[line].prefix { $0 == " " }.count
        let depth = rng.pick([5, 100, 255, 300, 600, 1_100])  // libyaml stops at 1 000
        switch rng.below(3) {
        case 0: setValue(String(repeating: "- ", count: depth) + "x")
        case 1: setValue("\n" + String(repeating: "- ", count: depth) + "x")
        default:
            setValue("")
            let ladder = (1...depth).map { String(repeating: " ", count: indent + $0 * rng.pick([1, 2])) + "k\($0):" }
            lines.insert(contentsOf: ladder, at: line + 1)
        }
    }

    /// The "billion laughs": a few anchors whose aliases expand to 10^9 nodes, used as
    /// a value, as a mapping key, or not at all.
    mutating func aliasBomb() {
        let levels = rng.pick([3, 6, 9])
        var definitions = ["x-l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]"]
        for level in 1..<levels {
            definitions.append(
                "x-l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
                    + "]")
        }
        let top = "*l\(levels - 1)"
        let at = lines.firstIndex { $0.hasPrefix("services:") } ?? 0
        lines.insert(contentsOf: definitions, at: at)
        switch rng.below(5) {
        case 0: setValue(top)
        case 1: lines.insert("\(top) : boom", at: at + definitions.count)
        case 2: lines.insert(contentsOf: ["? \(top)", ": boom"], at: at + definitions.count)
        case 3: lines.insert("x-keyed: { [\(top), \(top)]: boom }", at: at + definitions.count)
        default: break
        }
    }
}
