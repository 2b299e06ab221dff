import Foundation
import Testing
@testable import MusterKit

/// Reading tests, with their times, from Playwright, JUnit, go test -json and
/// muster's own tests file; and the one line a bad file gets.
@Suite struct TestReportReaderTests {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/test-reports").path
    }()

    static let base = RFC3339.seconds("2026-12-03T08:00:00Z")!

    func offsets(_ test: TestRecord) -> [Double] {
        [
            ((test.startSeconds - Self.base) * 1000).rounded() / 1000,
            ((test.endSeconds - Self.base) * 1000).rounded() / 1000,
        ]
    }

    @Test func playwrightNestedSuitesTwoWorkersAndRetries() throws {
        let tests = try TestReportReader.read(Self.folder + "/playwright.json")
        #expect(
            tests.map(\.id) == [
                "checkout.spec.ts › shows the cart",
                "checkout.spec.ts › payment › by card › charges the card",
                "checkout.spec.ts › payment › by card › charges the card (retry 1)",
                "checkout.spec.ts › payment › by card › refuses an expired card",
                "login.spec.ts › is skipped here",
            ])
        #expect(tests.map(\.outcome) == ["passed", "failed", "passed", "failed", "skipped"])
        #expect(tests.map(\.worker) == ["w0", "w1", "w1", "w0", "w1"])
        #expect(tests.map(offsets) == [[0, 1.5], [0.5, 2.5], [3, 3.25], [1.6, 31.6], [3.3, 3.3]])
        #expect(tests.allSatisfy { $0.source == "playwright" })
    }

    @Test func junitWithTestcaseTimestamps() throws {
        let tests = try TestReportReader.read(Self.folder + "/junit-testcase-timestamps.xml")
        #expect(
            tests.map(\.id) == [
                "tests.test_orders.test_create", "tests.test_orders.test_notify",
                "tests.test_orders.test_setup_broken", "tests.test_orders.test_later",
            ])
        #expect(tests.map(\.outcome) == ["passed", "failed", "error", "skipped"])
        #expect(tests.map(offsets) == [[0, 1.25], [1.5, 3.5], [4, 4.1], [5, 5]])
        #expect(tests.allSatisfy { $0.source == "junit" })
    }

    @Test func junitWithOnlyASuiteTimestampRunsTestsOneAfterAnother() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/junit-suite-timestamp.xml"))
        let tests = try JUnitReader.read(data, file: "junit-suite-timestamp.xml", zone: TimeZone(identifier: "UTC")!)
        #expect(
            tests.map(\.id) == [
                "com.example.OrderTest.creates", "com.example.OrderTest.notifies", "com.example.OrderTest.cancels",
            ])
        #expect(tests.map(\.outcome) == ["passed", "failed", "passed"])
        #expect(tests.map(offsets) == [[0, 1.5], [1.5, 4], [4, 6]])
    }

    @Test func goTestJSON() throws {
        let tests = try TestReportReader.read(Self.folder + "/go-test.jsonl")
        #expect(
            tests.map(\.id) == [
                "example.com/shop/orders/TestCreate", "example.com/shop/notify/TestSend",
                "example.com/shop/orders/TestCreate/with_discount", "example.com/shop/notify/TestRetry",
            ])
        #expect(tests.map(\.outcome) == ["passed", "failed", "skipped", "failed"])
        #expect(
            tests.map(\.worker) == [
                "example.com/shop/orders", "example.com/shop/notify", "example.com/shop/orders",
                "example.com/shop/notify",
            ])
        // TestRetry never finished (the binary panicked): failed, until its package's last event.
        #expect(tests.map(offsets) == [[0.1, 1.1], [0.2, 2.7], [1.2, 1.3], [2.8, 3.1]])
    }

    @Test func theTestsFileSkipsCutLines() throws {
        let path = NSTemporaryDirectory() + "muster-tests-file-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = [
            #"{"id": "tests/test_x.py::test_a", "outcome": "failed", "start": "2026-12-03T08:00:01.123456Z", "end": "2026-12-03T08:00:01.523456Z", "worker": "gw1", "source": "pytest", "extra": 1}"#,
            #"{"id": "tests/test_x.py::test_b", "outcome": "passed", "start": "2026-12-03T08:00:02Z", "end": "2026-12-03T08:00:03Z"}"#,
            #"{"id": "tests/test_x.py::test_c", "outcome": "pas"#,
        ]
        try (lines.joined(separator: "\n")).write(toFile: path, atomically: true, encoding: .utf8)
        let read = TestReportReader.readTestsFile(path)
        #expect(read.skipped == 1)
        #expect(read.tests.map(\.id) == ["tests/test_x.py::test_a", "tests/test_x.py::test_b"])
        #expect(read.tests[0].start == "2026-12-03T08:00:01.123456Z" && read.tests[0].worker == "gw1")
        #expect(read.tests[1].worker == "main" && read.tests[1].source == "pytest")
        #expect(TestReportReader.readTestsFile(path + ".missing").tests.isEmpty)
    }

    @Test(arguments: [
        ("playwright-no-start.json", "has no startTime"),
        ("playwright-truncated.json", "is not valid JSON"),
        ("junit-no-timestamp.xml", "has no timestamp and neither has its testsuite"),
        ("junit-broken.xml", "is not well-formed XML"),
        ("go-truncated.jsonl", "line 2 is not valid JSON"),
        ("not-a-report.txt", "is not a Playwright JSON report, a JUnit XML file or go test -json output"),
        ("no-such-file.json", "does not exist"),
    ])
    func malformedFilesGetOneLine(file: String, expected: String) {
        do {
            let tests = try TestReportReader.read(Self.folder + "/" + file)
            Issue.record("read \(tests.count) tests from \(file)")
        } catch let error as MusterError {
            #expect(error.code == .usage)
            #expect(error.message.hasPrefix("--tests \(Self.folder)/\(file): "), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("\n"))
        } catch {
            Issue.record("not a MusterError: \(error)")
        }
    }

    @Test func findingOutputLinesByTheirAction() {
        let needle = Array("\"Action\":\"output\"".utf8)
        func has(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { TestReportReader.contains($0, needle) } }
        #expect(has(#""Action":"output""#))
        #expect(has(#"{"Time":"t","Action":"output","Output":"x"}"#))
        #expect(has(#"{"A":1,"Action":"output"}"#))
        #expect(!has(#"{"Action":"outpu"#))
        #expect(!has(#"{"Action":"run","Output":""Action":"outpu"}"#))
        #expect(!has(""))
        #expect(Array("ab".utf8).withUnsafeBytes { TestReportReader.contains($0, Array("b".utf8)) })
    }
}
