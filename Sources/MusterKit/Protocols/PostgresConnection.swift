import Foundation

/// A Postgres connection for readiness checks and provisioning (roles, databases),
/// speaking the frontend/backend protocol 3.0 itself: startup, trust, cleartext or
/// SCRAM-SHA-256 login, simple queries with text results, and COPY both ways.
///
/// Not libpq: linked, it loaded libssl, libcrypto, Kerberos and LDAP into every
/// muster process (about 3.5 ms at each start and 5 MB of the supervisor's memory),
/// for a handful of queries over a local socket. Blocking: call it through `offload`.
public final class PostgresConnection {
    private let connection: TCPConnection
    private var closed = false
    /// Bytes read ahead of the message being parsed (one `recv` brings many messages:
    /// a COPY sends one per row).
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    /// The server process serving this connection (from BackendKeyData), 0 before login.
    public private(set) var backendPid: Int32 = 0
    /// What `once` has run on this session: statements prepared, settings set.
    var sessionSetUp = Set<String>()

    /// `conninfo` is a libpq keyword string: `host` (a folder means the unix socket
    /// in it), `port`, `user`, `password`, `dbname`, `connect_timeout` (seconds),
    /// `application_name`; values may be single-quoted. `total` bounds the login
    /// and every later exchange together (a probe's check), not only each call.
    public init(_ conninfo: String, total: Duration? = nil) throws {
        let settings = try Self.parse(conninfo: conninfo)
        let host = settings["host"] ?? "/var/run/postgresql"
        let port = Int(settings["port"] ?? "5432") ?? 5432
        let user = settings["user"] ?? "postgres"
        let seconds = Int(settings["connect_timeout"] ?? "") ?? 10
        let timeout = Duration.seconds(max(1, seconds))
        let place = host.hasPrefix("/") ? "socket \"\(host)/.s.PGSQL.\(port)\"" : "\(host):\(port)"
        do {
            connection =
                host.hasPrefix("/")
                ? try TCPConnection(unixSocket: "\(host)/.s.PGSQL.\(port)", timeout: timeout)
                : try TCPConnection(host: host, port: port, timeout: timeout)
        } catch let error as NetworkError {
            throw NetworkError("connection to server on \(place) failed: \(error.message)")
        }
        if let total { connection.deadline = .now + total }
        do {
            try startUp(
                user: user, database: settings["dbname"] ?? user, password: settings["password"],
                applicationName: settings["application_name"])
        } catch let error as NetworkError {
            connection.close()
            throw NetworkError("connection to server on \(place) failed: \(error.message)")
        } catch let error as ProtocolError {
            connection.close()
            throw ProtocolError("postgres", error.problem, "\(error.detail) (server on \(place))")
        }
    }

    deinit { close() }

    /// How long one exchange may take once logged in (`connect_timeout` until then).
    /// Provisioning statements wait for the server's own work: a `DROP DATABASE`
    /// waits for the checkpoint it forces, seconds on a slow disk with fsync on.
    public var statementTimeout: Duration {
        get { connection.timeout }
        set { connection.timeout = newValue }
    }

    /// The limit muster's own provisioning statements (snapshots, restores, clones,
    /// roles, databases) get: long, but bounded.
    public static let provisioningTimeout: Duration = .seconds(300)

    /// Says goodbye (Terminate) and closes the socket.
    public func close() {
        guard !closed else { return }
        closed = true
        try? connection.write(Message.frame("X", []))
        connection.close()
    }

    /// Runs one statement and returns its rows as text (NULL as nil); of several, the
    /// rows of the last one that returns rows (PQexec too keeps only the last result).
    @discardableResult
    public func query(_ sql: String) throws -> [[String?]] {
        try exchange(sql).last(where: \.described)?.rows ?? []
    }

    /// Runs one `COPY ... TO STDOUT` and returns the data it sent, its messages' bytes back to back.
    public func copyOut(_ sql: String) throws -> [UInt8] {
        try exchange(sql).flatMap(\.copied)
    }

    /// Runs one `COPY ... FROM STDIN`, sending `data` (as `copyOut` returned it).
    public func copyIn(_ sql: String, _ data: [UInt8]) throws {
        _ = try exchange(sql, copyIn: [data])
    }

    /// What one statement of `exchange` returned: its rows, or the data a `COPY ... TO STDOUT` sent.
    public struct StatementResult {
        public var rows: [[String?]] = []
        public var copied: [UInt8] = []
        /// Whether it described rows (a `SELECT`, even of none), as `query` returns.
        public var described = false
    }

    /// Runs several statements in one exchange: the result of each statement that
    /// completed, in order; each `COPY ... FROM STDIN` among them takes the next of
    /// `copyIn`. Throws the first error (the statements after it did not run).
    public func exchange(_ sql: String, copyIn: [[UInt8]] = []) throws -> [StatementResult] {
        guard !sql.utf8.contains(0) else { throw NetworkError("the SQL text holds a NUL byte") }
        try connection.write(Message.frame("Q", Array(sql.utf8) + [0]))
        var results: [StatementResult] = []
        var current = StatementResult()
        var inputs = copyIn[...]
        var failure: NetworkError?
        while true {
            let message = try receive()
            switch message.type {
            case "T": current.described = true
            case "D": current.rows.append(try message.dataRow())
            case "d": current.copied += message.body
            case "G":
                if let data = inputs.popFirst() {
                    try send(copyData: data)
                } else {
                    try connection.write(Message.frame("f", Array("no data for this COPY".utf8) + [0]))
                }
            case "C":
                results.append(current)
                current = StatementResult()
            case "E": failure = NetworkError(message.errorText())
            case "Z":
                if let failure { throw failure }
                return results
            default: continue  // row descriptions, copy responses, notices
            }
        }
    }

    /// One COPY's data in messages of up to 64 KiB, then CopyDone.
    private func send(copyData data: [UInt8]) throws {
        var start = 0
        repeat {
            let end = min(start + 1 << 16, data.count)
            try connection.write(Message.frame("d", Array(data[start..<end])))
            start = end
        } while start < data.count
        try connection.write(Message.frame("c", []))
    }

    /// Whether the server has closed this connection or sent something unasked (a
    /// terminated session's last words): a look without waiting.
    public var isClosedByServer: Bool { closed || connection.hasPendingInput || inbox.count > inboxStart }

    /// `SELECT` of one value.
    public func value(_ sql: String) throws -> String? {
        try query(sql).first?.first ?? nil
    }

    /// Quotes an identifier ("name") the way libpq does.
    public func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\0", with: "").replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Quotes a literal ('value') the way libpq does: E'' when it holds a backslash.
    public func literal(_ value: String) -> String {
        let clean = value.replacingOccurrences(of: "\0", with: "")
        let quoted = clean.replacingOccurrences(of: "'", with: "''")
        guard clean.contains("\\") else { return "'\(quoted)'" }
        return "E'" + quoted.replacingOccurrences(of: "\\", with: "\\\\") + "'"
    }

    /// Quotes a value for a conninfo string.
    public static func conninfoValue(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// `key=value` pairs, whitespace-separated; quoted values take `\'` and `\\`.
    static func parse(conninfo: String) throws -> [String: String] {
        var settings: [String: String] = [:]
        var rest = Substring(conninfo)
        func skipSpaces() { rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "\n" } }
        skipSpaces()
        while !rest.isEmpty {
            let key = rest.prefix { $0 != "=" && $0 != " " && $0 != "\t" }
            rest = rest.dropFirst(key.count)
            skipSpaces()
            guard rest.first == "=" else { throw NetworkError("connection string: \"\(key)\" has no value") }
            rest = rest.dropFirst()
            skipSpaces()
            var value = ""
            if rest.first == "'" {
                rest = rest.dropFirst()
                var ended = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\\", let next = rest.first {
                        value.append(next)
                        rest = rest.dropFirst()
                    } else if character == "'" {
                        ended = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard ended else { throw NetworkError("connection string: unterminated quoted value of \"\(key)\"") }
            } else {
                value = String(rest.prefix { $0 != " " && $0 != "\t" && $0 != "\n" })
                rest = rest.dropFirst(value.count)
            }
            settings[String(key)] = value
            skipSpaces()
        }
        return settings
    }

    // MARK: - Protocol

    private func startUp(user: String, database: String, password: String?, applicationName: String?) throws {
        var parameters = ["user", user, "database", database, "client_encoding", "UTF8"]
        if let applicationName { parameters += ["application_name", applicationName] }
        var body = Message.int32(196_608)  // protocol 3.0
        for text in parameters { body += Array(text.utf8) + [0] }
        body.append(0)
        try connection.write(Message.int32(Int32(body.count + 4)) + body)
        var scram: SCRAMClient?
        var expectedSignature: String?
        while true {
            let message = try receive()
            switch message.type {
            case "R":
                var reader = message.reader
                let code = try reader.int32()
                switch code {
                case 0: continue  // AuthenticationOk
                case 3:  // cleartext
                    guard let password else { throw NetworkError("the server asks for a password and none was given") }
                    try connection.write(Message.frame("p", Array(password.utf8) + [0]))
                case 10:  // SASL: the mechanisms on offer
                    let mechanisms = reader.strings()
                    guard mechanisms.contains("SCRAM-SHA-256") else {
                        throw NetworkError(
                            "the server offers \(mechanisms.joined(separator: ", ")); muster speaks SCRAM-SHA-256")
                    }
                    guard let password else { throw NetworkError("the server asks for a password and none was given") }
                    let client = SCRAMClient(password: password)
                    scram = client
                    let first = Array(client.clientFirstMessage.utf8)
                    try connection.write(
                        Message.frame(
                            "p", Array("SCRAM-SHA-256".utf8) + [0] + Message.int32(Int32(first.count)) + first))
                case 11:  // SASL continue: the server's first message
                    guard let client = scram else { throw NetworkError("SCRAM: unexpected server message") }
                    let (final, signature) = try client.clientFinal(
                        serverFirst: String(decoding: reader.rest(), as: UTF8.self))
                    expectedSignature = signature
                    try connection.write(Message.frame("p", Array(final.utf8)))
                case 12:  // SASL final: the server proves it knew the password too
                    let text = String(decoding: reader.rest(), as: UTF8.self)
                    guard let expectedSignature, text == "v=" + expectedSignature else {
                        throw NetworkError("SCRAM: the server's signature does not match; not the expected server")
                    }
                case 5:
                    throw NetworkError(
                        "the server asks for md5 authentication; muster speaks SCRAM-SHA-256 (set password_encryption and pg_hba to scram-sha-256)"
                    )
                default:
                    throw NetworkError(
                        "the server asks for an authentication method muster does not speak (code \(code))")
                }
            case "K":
                var reader = message.reader
                backendPid = (try? reader.int32()) ?? 0
            case "E": throw NetworkError(message.errorText())
            case "Z": return
            default: continue  // ParameterStatus, notices
            }
        }
    }

    private func receive() throws -> Message {
        let header: [UInt8]
        do {
            header = try take(5)
        } catch let error as NetworkError {
            throw ProtocolError("postgres", .closed, "no complete message header: \(error.message)")
        }
        let (type, length) = try Message.header(header)
        do {
            return Message(type: type, body: try take(length - 4))
        } catch let error as NetworkError {
            throw ProtocolError(
                "postgres", .truncated, "'\(type)' message of \(length) bytes cut short: \(error.message)")
        }
    }

    /// The next `count` bytes from the server, read ahead in blocks of up to 64 KiB.
    private func take(_ count: Int) throws -> [UInt8] {
        while inbox.count - inboxStart < count {
            if inboxStart > 0 {
                inbox.removeFirst(inboxStart)
                inboxStart = 0
            }
            let more: [UInt8]
            do {
                more = try connection.readSome(max: max(1 << 16, count - inbox.count))
            } catch let error as NetworkError {
                throw NetworkError("\(error.message) (\(inbox.count) of \(count) bytes arrived)")
            }
            guard !more.isEmpty else {
                throw NetworkError(
                    "connection closed by \(connection.endpoint) after \(inbox.count) of \(count) bytes")
            }
            inbox += more
        }
        let bytes = Array(inbox[inboxStart..<inboxStart + count])
        inboxStart += count
        return bytes
    }
}
