import Foundation
import Testing

@testable import MusterKit

/// Resets in place of tables keyed by one integer column (bigint, int, smallint, negative
/// keys too), where the count and XOR of the keys left name a deleted row: every change
/// a test makes comes back to exactly the snapshot. Against a real Postgres.
@Suite struct ResetIntegerKeyTests {
    static let yaml = DatabaseSnapshotTests.migrated(
        "CREATE TABLE big (id bigint PRIMARY KEY, v text); CREATE TABLE mid (id int PRIMARY KEY, v text); CREATE TABLE small (id smallint PRIMARY KEY, v text); INSERT INTO big SELECT g * 3000000000, 'b' || g FROM generate_series(-100, 100) g; INSERT INTO mid SELECT g, 'm' || g FROM generate_series(-200, 200) g; INSERT INTO small SELECT g, 's' || g FROM generate_series(-300, 300) g"
    )

    static func contents(_ stack: TestStack) async throws -> String {
        let connection = try await DatabaseSnapshotTests.connect(stack)
        defer { connection.close() }
        return try connection.value(
            """
            SELECT concat_ws(' ', (SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM big b),
                (SELECT md5(string_agg(m::text, ',' ORDER BY id)) FROM mid m),
                (SELECT md5(string_agg(s::text, ',' ORDER BY id)) FROM small s))
            """) ?? ""
    }

    @Test func deletedUpdatedAndMovedRowsComeBack() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let snapshot = try await Self.contents(stack)
        try await DatabaseResetTests.untilInPlace(stack)
        let changes = [
            "DELETE FROM big WHERE id = -300000000000",
            "DELETE FROM mid WHERE id = 7; UPDATE mid SET v = 'changed' WHERE id BETWEEN -3 AND 3",
            "DELETE FROM small WHERE id = -300; DELETE FROM mid WHERE id = 200; DELETE FROM big WHERE id = 0",
            "DELETE FROM mid WHERE id IN (1, 2)",
            "UPDATE small SET id = 1000 WHERE id = 5",
            "UPDATE mid SET id = 100000 WHERE id = 10; UPDATE mid SET id = 10 WHERE id = -10; UPDATE mid SET id = -10 WHERE id = 100000",
            "DELETE FROM big WHERE id = 3000000000; INSERT INTO big VALUES (3000000000, 'again'), (1, 'new')",
            "DELETE FROM small WHERE id = 9; INSERT INTO small VALUES (9, 'back'); DELETE FROM small WHERE id = 10",
            "BEGIN; DELETE FROM mid WHERE id = 50; ROLLBACK; DELETE FROM mid WHERE id = 51",
            "DELETE FROM small; INSERT INTO small VALUES (1, 'only')",
        ]
        for sql in changes {
            let connection = try await DatabaseSnapshotTests.connect(stack)
            try connection.query(sql)
            connection.close()
            #expect(try await Self.contents(stack) != snapshot, "\(sql): the change changed nothing")
            let output = try await DatabaseResetTests.restore(stack)
            #expect(output.contains("reset in place"), "\(sql): \(output)")
            #expect(try await Self.contents(stack) == snapshot, "\(sql): \(output)")
        }
        try await DatabasePoolTests.expectNothingLeft(stack)
    }
}
