import ArgumentParser
import Foundation
import MusterKit

/// `muster db snapshot|restore|clone|list|keep|drop`: test databases reset in milliseconds.
/// Each is one request to the running supervisor (`/v1/db/...`), so a test fixture
/// can do the same with the control API and start no process.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Snapshot a Postgres database, restore it in milliseconds, clone it per test worker.",
        discussion: """
            muster db snapshot db                 copy db's first database into the snapshot "default"
            muster db restore db                  replace it with a fresh copy of the snapshot
            muster db clone db --count 4          shop_gw0 ... shop_gw3, one per pytest-xdist worker
            muster db list db                     the snapshots, with size, age and pools (ready/size), and kept databases
            muster db keep db --database shop_gw1 --test test_checkout
                                                  keep shop_gw1 as shop_gw1_failed_test_checkout (or --as NAME)
            muster db drop db shop_gw1_failed_test_checkout
                                                  drop a kept database
            Snapshots and kept databases live in the cluster: they survive down and go with down --volumes.
            """,
        subcommands: [Snapshot.self, Restore.self, Clone.self, List.self, Keep.self, Drop.self])

    struct Target: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The Postgres service.", completion: ServiceCompletion.kind) var service: String
        @Option(help: "The database (default: the service's first).") var database: String?
        @Option(help: "The snapshot's name (default: default).") var name: String?

        func send(_ action: DatabaseAction, count: Int? = nil) throws -> DatabaseResult {
            try DatabaseCommand.send(
                action, DatabaseRequest(service: service, database: database, name: name, count: count), global: global)
        }
    }

    static func send(_ action: DatabaseAction, _ request: DatabaseRequest, global: GlobalOptions) throws
        -> DatabaseResult
    {
        let service = request.service
        let (stack, paths) = try global.resolveRunning()
        try global.checkServices([service], in: stack)
        let client = try global.runningClient(paths)
        let response = try client.request(
            "POST", "/v1/db/" + action.rawValue, body: ControlJSON.encode(request), timeout: .seconds(600))
        let result = try ControlJSON.decode(DatabaseResult.self, from: response.body)
        guard result.ok else {
            let code = MusterError.Code(rawValue: result.code ?? "") ?? .serviceFailed
            throw MusterError(code, result.error ?? "\(action.rawValue) failed")
        }
        return result
    }

    static func say(_ text: String) {
        let out = Console.standardOutput
        out.line(out.paint("muster │ ", .bold) + text)
    }

    static func sessions(_ count: Int?) -> String {
        guard let count, count > 0 else { return "" }
        return "; ended \(count) session\(count == 1 ? "" : "s") on it first"
    }

    static func ms(_ value: Double?) -> String { String(format: "%.1f ms", value ?? 0) }

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a database into a named snapshot (ends other sessions on it first).")
        @OptionGroup var target: Target

        func run() async throws {
            let result = try target.send(.snapshot)
            guard let snapshot = result.snapshot else { return }
            DatabaseCommand.say(
                "snapshot \"\(snapshot.name)\" of \(snapshot.database) taken (\(ByteCountFormatter.string(fromByteCount: Int64(snapshot.sizeBytes), countStyle: .binary)), \(DatabaseCommand.ms(result.elapsedMs)))\(DatabaseCommand.sessions(result.endedSessions))"
            )
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a database with a fresh copy of its snapshot (ends the sessions on it).")
        @OptionGroup var target: Target

        func run() async throws {
            let result = try target.send(.restore)
            var pool =
                result.waitedMs.map { "; the pool was empty: waited \(DatabaseCommand.ms($0)) for a copy" }
                ?? ", a ready copy from the pool"
            if let tables = result.resetTables {
                pool =
                    tables == 0
                    ? ", reset in place: no table had changed"
                    : ", reset in place: \(tables) table\(tables == 1 ? "" : "s") reloaded"
            }
            DatabaseCommand.say(
                "restored \((result.databases ?? []).joined(separator: ", ")) from snapshot \"\(target.name ?? "default")\" (\(DatabaseCommand.ms(result.elapsedMs))\(pool))\(DatabaseCommand.sessions(result.endedSessions))"
            )
        }
    }

    struct Clone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make DATABASE_gw0 ... DATABASE_gwN-1 from the snapshot, one per test worker.")
        @OptionGroup var target: Target
        @Option(help: "How many copies (1 to 64).") var count: Int = 1

        func run() async throws {
            let result = try target.send(.clone, count: count)
            DatabaseCommand.say(
                "cloned \((result.databases ?? []).joined(separator: ", ")) from snapshot \"\(target.name ?? "default")\" (\(DatabaseCommand.ms(result.elapsedMs)))\(DatabaseCommand.sessions(result.endedSessions))"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The snapshots of a Postgres service, with size, age and pools of ready copies.")
        @OptionGroup var global: GlobalOptions
        @Argument(
            help: "The Postgres service (default: each Postgres service of the stack).",
            completion: ServiceCompletion.kind)
        var service: String?
        @Flag(help: "Machine-readable output.") var json = false

        func run() async throws {
            let (stack, paths) = try global.resolveRunning()
            if let service { try global.checkServices([service], in: stack) }
            let client = try global.runningClient(paths)
            let services = try service.map { [$0] } ?? DatabaseCommand.postgresServices(client)
            var all: [DatabaseSnapshots.Snapshot] = []
            for (index, service) in services.enumerated() {
                let result = try Self.listing(service, client: client)
                if json {
                    all += result.snapshots ?? []
                    continue
                }
                if services.count > 1 { print((index > 0 ? "\n" : "") + service + ":") }
                Self.show(result, service: service)
            }
            if json { print(String(decoding: ControlJSON.encode(all), as: UTF8.self)) }
        }

        static func listing(_ service: String, client: ControlClient) throws -> DatabaseResult {
            let response = try client.request("GET", "/v1/db/snapshots?service=" + service)
            let result = try ControlJSON.decode(DatabaseResult.self, from: response.body)
            guard result.ok else { throw MusterError(.usage, result.error ?? "list failed") }
            return result
        }

        static func show(_ result: DatabaseResult, service: String) {
            let snapshots = result.snapshots ?? []
            defer {
                Self.printKept(result.kept ?? [])
                KeyListing.printSetAside(result.keyed ?? [])
                KeyListing.printCache(service: service)
            }
            guard !snapshots.isEmpty else {
                print("no snapshots in \(service); take one with muster db snapshot \(service)"); return
            }
            var rows = [["DATABASE", "SNAPSHOT", "KEY", "SIZE", "AGE", "TAKEN", "POOL (READY/SIZE)"]]
            for snapshot in snapshots {
                let pools = (snapshot.pools ?? []).map { "\($0.database) \($0.ready)/\($0.size)" }.joined(
                    separator: ", ")
                rows.append([
                    snapshot.database, snapshot.name, KeyListing.short(snapshot.key),
                    ByteCountFormatter.string(fromByteCount: Int64(snapshot.sizeBytes), countStyle: .binary),
                    KeyListing.age(snapshot.taken), snapshot.taken, pools,
                ])
            }
            Table.render(rows).forEach { print($0) }
        }

        static func printKept(_ kept: [DatabaseSnapshots.KeptDatabase]) {
            guard !kept.isEmpty else { return }
            var rows = [["KEPT DATABASE", "WAS", "FOR", "SIZE", "KEPT"]]
            for database in kept {
                rows.append([
                    database.name, database.database, database.test,
                    ByteCountFormatter.string(fromByteCount: Int64(database.sizeBytes), countStyle: .binary),
                    database.kept,
                ])
            }
            print("")
            Table.render(rows).forEach { print($0) }
        }
    }

    struct Keep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Keep a database as it is (a failed test's) under a name of its own; a fresh copy of the snapshot takes its place."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The Postgres service.", completion: ServiceCompletion.kind) var service: String
        @Option(help: "The database to keep (default: the service's first).") var database: String?
        @Option(name: .customLong("as"), help: "The kept database's exact name (refused when a database has it).")
        var keptName: String?
        @Option(help: "The test it is kept for: kept as DATABASE_failed_TEST, cut to 63 bytes and made unique.")
        var test: String?
        @Option(help: "The snapshot that takes its place (default: default).") var name: String?

        func run() async throws {
            let request = DatabaseRequest(
                service: service, database: database, name: name, test: test, keepAs: keptName)
            let result = try DatabaseCommand.send(.keep, request, global: global)
            DatabaseCommand.say(
                "kept \(database ?? "the database") as \((result.databases ?? []).joined(separator: ", ")); a fresh copy took its place (\(DatabaseCommand.ms(result.elapsedMs)))\(DatabaseCommand.sessions(result.endedSessions))"
            )
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop a database muster kept (muster db keep, --muster-keep-failed).")
        @OptionGroup var global: GlobalOptions
        @Argument(
            help: ArgumentHelp(
                "The Postgres service, then the kept database; with one Postgres service in the stack, the kept database alone.",
                valueName: "service"),
            completion: ServiceCompletion.kind)
        var first: String
        @Argument(help: "The kept database (muster db list shows them).") var kept: String?

        func run() async throws {
            let (service, database) = try resolve()
            let result = try DatabaseCommand.send(
                .drop, DatabaseRequest(service: service, database: database), global: global)
            DatabaseCommand.say(
                "dropped \(database) (\(DatabaseCommand.ms(result.elapsedMs)))\(DatabaseCommand.sessions(result.endedSessions))"
            )
        }

        /// `drop SERVICE NAME`, or `drop NAME` with the service found: the stack's only
        /// Postgres service, else the one that kept NAME.
        func resolve() throws -> (service: String, database: String) {
            if let kept { return (first, kept) }
            let (stack, paths) = try global.resolveRunning()
            let client = try global.runningClient(paths)
            let services = try DatabaseCommand.postgresServices(client)
            if stack.serviceNames.contains(first) {
                guard services.contains(first) else {
                    throw MusterError(
                        .usage,
                        "\"\(first)\" is not a Postgres service of this stack; Postgres services: \(services.joined(separator: ", "))"
                    )
                }
                let keptThere = try List.listing(first, client: client).kept ?? []
                throw MusterError(
                    .usage,
                    "muster db drop \(first): name the kept database to drop (muster db drop \(first) NAME); kept: \(keptThere.isEmpty ? "none" : keptThere.map(\.name).joined(separator: ", "))"
                )
            }
            if services.count == 1 { return (services[0], first) }
            let holders = try services.filter { service in
                try List.listing(service, client: client).kept?.contains { $0.name == first } == true
            }
            guard holders.count == 1 else {
                throw MusterError(
                    .usage,
                    "\(first) is not a database muster kept in \(holders.isEmpty ? "any" : "exactly one") Postgres service (\(services.joined(separator: ", "))); name the service: muster db drop SERVICE \(first)"
                )
            }
            return (holders[0], first)
        }
    }

    /// The stack's Postgres services, for the commands whose service may be left out.
    static func postgresServices(_ client: ControlClient) throws -> [String] {
        let services = try client.status().services.filter { $0.kind == "postgres" }.map(\.name)
        guard !services.isEmpty else {
            throw MusterError(
                .usage, "the stack has no Postgres service; muster db works on services with engine: postgres")
        }
        return services
    }
}
