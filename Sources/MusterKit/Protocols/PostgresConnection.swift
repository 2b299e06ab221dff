import CLibPQ
import Foundation

/// A libpq connection for readiness checks and provisioning (roles, databases).
/// Blocking: call it through `offload`.
public final class PostgresConnection {
    private let connection: OpaquePointer

    /// `conninfo` is a libpq keyword string, e.g. `host=/tmp/x port=5432 user=postgres dbname=postgres`.
    public init(_ conninfo: String) throws {
        guard let connection = PQconnectdb(conninfo) else { throw NetworkError("libpq could not allocate a connection") }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            // deinit still runs for a throwing class initializer and calls PQfinish.
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw NetworkError(message.isEmpty ? "connection failed" : message)
        }
    }

    deinit { PQfinish(connection) }

    /// Runs one statement and returns its rows as text (NULL as nil).
    @discardableResult
    public func query(_ sql: String) throws -> [[String?]] {
        guard let result = PQexec(connection, sql) else { throw NetworkError("libpq returned no result") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw NetworkError(String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return (0..<PQntuples(result)).map { row in
            (0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
    }

    /// `SELECT` of one value.
    public func value(_ sql: String) throws -> String? {
        try query(sql).first?.first ?? nil
    }

    /// Quotes an identifier ("name") the way libpq does.
    public func identifier(_ name: String) -> String {
        guard let quoted = PQescapeIdentifier(connection, name, name.utf8.count) else { return "\"\(name)\"" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a literal ('value').
    public func literal(_ value: String) -> String {
        guard let quoted = PQescapeLiteral(connection, value, value.utf8.count) else { return "'\(value)'" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a value for a conninfo string.
    public static func conninfoValue(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
