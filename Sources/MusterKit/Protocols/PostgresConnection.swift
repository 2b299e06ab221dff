import CMusterShims
import Foundation

/// A libpq connection for readiness checks and provisioning (roles, databases).
/// libpq is loaded on first use. Blocking: call it through `offload`.
public final class PostgresConnection {
    private let connection: UnsafeMutableRawPointer

    /// `conninfo` is a libpq keyword string, e.g. `host=/tmp/x port=5432 user=postgres dbname=postgres`.
    public init(_ conninfo: String) throws {
        if let problem = muster_pq_problem() { throw NetworkError(String(cString: problem)) }
        guard let connection = muster_pq_connect(conninfo) else { throw NetworkError("libpq could not allocate a connection") }
        self.connection = connection
        guard muster_pq_connected(connection) != 0 else {
            // deinit still runs for a throwing class initializer and calls PQfinish.
            let message = String(cString: muster_pq_error(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw NetworkError(message.isEmpty ? "connection failed" : message)
        }
    }

    deinit { muster_pq_finish(connection) }

    /// Runs one statement and returns its rows as text (NULL as nil).
    @discardableResult
    public func query(_ sql: String) throws -> [[String?]] {
        guard let result = muster_pq_exec(connection, sql) else { throw NetworkError("libpq returned no result") }
        defer { muster_pq_clear(result) }
        guard muster_pq_result_ok(result) != 0 else {
            throw NetworkError(String(cString: muster_pq_result_error(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return (0..<muster_pq_rows(result)).map { row in
            (0..<muster_pq_columns(result)).map { column in
                muster_pq_value(result, row, column).map { String(cString: $0) }
            }
        }
    }

    /// `SELECT` of one value.
    public func value(_ sql: String) throws -> String? {
        try query(sql).first?.first ?? nil
    }

    /// Quotes an identifier ("name") the way libpq does.
    public func identifier(_ name: String) -> String {
        guard let quoted = muster_pq_escape_identifier(connection, name, name.utf8.count) else { return "\"\(name)\"" }
        defer { muster_pq_free(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a literal ('value').
    public func literal(_ value: String) -> String {
        guard let quoted = muster_pq_escape_literal(connection, value, value.utf8.count) else { return "'\(value)'" }
        defer { muster_pq_free(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a value for a conninfo string.
    public static func conninfoValue(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
