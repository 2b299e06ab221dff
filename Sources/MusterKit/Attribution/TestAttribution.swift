import Foundation

/// Which tests each disruption overlapped, and the sentences `muster run` prints
/// about it. A test overlaps a disruption when `[test.start, test.end]`
/// intersects `[d.start, d.end ?? +inf]` (touching ends count).
///
/// - Complexity: O((T + D) log D) plus the matches: disruptions are sorted by
///   start once, and each test looks only at those that began before it ended,
///   walking back while the running maximum of their ends still reaches it.
public enum TestAttribution {
    public struct Result: Sendable {
        /// The tests in their original order, `disruptions` filled.
        public var tests: [TestRecord]
        /// For each service, the ids of the tests its disruptions overlapped, in test order.
        public var testsByService: [String: [String]]
    }

    public static func attribute(_ tests: [TestRecord], to disruptions: [Disruption]) -> Result {
        let sorted = disruptions.sorted { $0.startSeconds < $1.startSeconds }
        var reach: [Double] = []
        reach.reserveCapacity(sorted.count)
        for disruption in sorted { reach.append(max(reach.last ?? -.infinity, disruption.endSeconds)) }
        var result = Result(tests: tests, testsByService: [:])
        for index in result.tests.indices {
            let test = result.tests[index]
            // First disruption that began after the test ended.
            var low = 0, high = sorted.count
            while low < high {
                let middle = (low + high) / 2
                if sorted[middle].startSeconds <= test.endSeconds { low = middle + 1 } else { high = middle }
            }
            var seqs: [Int] = []
            var services: [String] = []
            var position = low - 1
            while position >= 0, reach[position] >= test.startSeconds {
                let disruption = sorted[position]
                if disruption.endSeconds >= test.startSeconds {
                    seqs.append(disruption.seq)
                    if !services.contains(disruption.service) { services.append(disruption.service) }
                }
                position -= 1
            }
            guard !seqs.isEmpty else { continue }
            result.tests[index].disruptions = seqs.sorted()
            for service in services { result.testsByService[service, default: []].append(test.id) }
        }
        return result
    }

    /// The lines after CMD: failing tests that overlapped a disruption first, a
    /// line per service (`3 failing tests overlapped a restart of notifier: a, b,
    /// c`), then those that overlapped none (the code's own failures). At most
    /// `show` names per line, then `and N more`.
    public static func summary(tests: [TestRecord], disruptions: [Disruption], show: Int = 5) -> [String] {
        let bySeq = Dictionary(disruptions.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        var failingByService: [String: [String]] = [:]
        var nounsByService: [String: [String]] = [:]
        var own: [String] = []
        for test in tests where test.isFailure {
            let hit = test.disruptions.compactMap { bySeq[$0] }
            if hit.isEmpty { own.append(test.id); continue }
            var seen: Set<String> = []
            for disruption in hit {
                if !(nounsByService[disruption.service]?.contains(disruption.noun) ?? false) {
                    nounsByService[disruption.service, default: []].append(disruption.noun)
                }
                if seen.insert(disruption.service).inserted {
                    failingByService[disruption.service, default: []].append(test.id)
                }
            }
        }
        var lines: [String] = []
        for service in failingByService.keys.sorted() {
            let ids = failingByService[service]!
            let what = nounsByService[service, default: []].sorted().map(withArticle).joined(separator: " or ")
            lines.append("\(count(ids.count)) overlapped \(what) of \(service): \(list(ids, show: show))")
        }
        if !own.isEmpty {
            lines.append(
                "\(count(own.count)) overlapped no disruption (the code's own failures): \(list(own, show: show))")
        }
        return lines
    }

    /// `a, b, c and 4 more`.
    public static func list(_ names: [String], show: Int) -> String {
        guard names.count > show else { return names.joined(separator: ", ") }
        return names.prefix(show).joined(separator: ", ") + " and \(names.count - show) more"
    }

    private static func count(_ number: Int) -> String {
        number == 1 ? "1 failing test" : "\(number) failing tests"
    }

    private static func withArticle(_ noun: String) -> String {
        ("aeiou".contains(noun.first ?? "x") ? "an " : "a ") + noun
    }
}
