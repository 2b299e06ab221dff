import Testing

@testable import MusterKit

/// The count and XOR a reset reads of a table whose originals may be missing name the
/// one row a test deleted without reading the table's keys; anything else is left to
/// the read of the keys (nil).
@Suite struct ResetMissingKeyTests {
    static func key(_ value: Int64, width: Int = 8) -> [UInt8] { BinaryCopy.integerKey(value, width: width)! }

    static func rows(_ keys: [Int64], width: Int = 8) -> SourceRows {
        SourceRows(keys.map { BinaryCopy.Tuple(bytes: Array("row \($0)".utf8), key: key($0, width: width)) })
    }

    static func xor(_ keys: [Int64]) -> Int64 { keys.reduce(0, ^) }

    @Test func integerKeysReadBackSignExtended() {
        for width in [2, 4, 8] {
            for value: Int64 in [0, 1, -1, 127, -128, 32767, -32768] {
                #expect(BinaryCopy.integer(ofKey: Self.key(value, width: width)) == value, "\(value) in \(width) bytes")
            }
        }
        #expect(BinaryCopy.integer(ofKey: Self.key(Int64.min)) == Int64.min)
        #expect(BinaryCopy.integer(ofKey: Self.key(-2_000_000_000, width: 4)) == -2_000_000_000)
        #expect(BinaryCopy.integerKey(40000, width: 2) == nil, "does not fit")
        #expect(BinaryCopy.integerKey(-40000, width: 2) == nil, "does not fit")
        #expect(BinaryCopy.integer(ofKey: [0, 0, 0, 3, 1, 2, 3]) == nil, "3 bytes is no integer column")
        #expect(BinaryCopy.integer(ofKey: [0, 0, 0, 8, 1, 2, 3, 4]) == nil, "length and bytes disagree")
        #expect(BinaryCopy.integer(ofKey: [0, 0, 0, 2, 0, 1, 0, 0, 0, 2, 0, 2]) == nil, "two columns")
    }

    @Test func oneDeletedRowIsNamedByTheXOR() {
        let source = Self.rows([-5, 1, 2, 3, 400, 9_000_000_000])
        for width in [8] {
            for gone in [Int64(-5), 3, 9_000_000_000] {
                let left = Set([-5, 1, 2, 3, 400, 9_000_000_000]).subtracting([gone])
                let missing = ReloadPlan.Left(count: left.count, xor: Self.xor(Array(left)))
                    .missing(from: source, besides: [], width: width)
                #expect(missing?.map(\.key) == [Self.key(gone)], "\(gone)")
            }
        }
    }

    @Test func rowsPutBackAlreadyAreLeftOutOfTheXOR() {
        let source = Self.rows([10, 20, 30, 40, 50], width: 4)
        let back = [source.tuples[1], source.tuples[3]]  // 20 and 40 updated: put back from the delete's keys
        // 30 deleted too: left are 10 and 50.
        let one = ReloadPlan.Left(count: 2, xor: 10 ^ 50).missing(from: source, besides: back, width: 4)
        #expect(one?.map(\.key) == [Self.key(30, width: 4)])
        // Nothing else missing: left are 10, 30 and 50.
        let none = ReloadPlan.Left(count: 3, xor: 10 ^ 30 ^ 50).missing(from: source, besides: back, width: 4)
        #expect(none?.isEmpty == true)
    }

    @Test func whatTheCountsCannotTellIsLeftToTheKeys() {
        let source = Self.rows([1, 2, 3, 4])
        #expect(
            ReloadPlan.Left(count: 2, xor: 1 ^ 2).missing(from: source, besides: [], width: 8) == nil,
            "two rows deleted")
        #expect(
            ReloadPlan.Left(count: 3, xor: 1 ^ 2 ^ 77).missing(from: source, besides: [], width: 8) == nil,
            "the XOR names no row of the source")
        #expect(
            ReloadPlan.Left(count: 4, xor: 1 ^ 2 ^ 3 ^ 5).missing(from: source, besides: [], width: 8) == nil,
            "counts add up but the keys do not")
        #expect(
            ReloadPlan.Left(count: 2, xor: 1 ^ 2 ^ 3 ^ 4).missing(
                from: source, besides: [source.tuples[3]], width: 8) == nil,
            "the named row is one put back already")
        #expect(
            ReloadPlan.Left(count: 4, xor: nil).missing(from: source, besides: [], width: 0)?.isEmpty == true,
            "another key: the count alone says nothing is missing")
        #expect(
            ReloadPlan.Left(count: 3, xor: nil).missing(from: source, besides: [], width: 0) == nil,
            "another key: the count alone cannot name the row")
    }
}
