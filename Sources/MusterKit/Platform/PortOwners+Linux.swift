import Foundation

/// Who holds a TCP port, for the one line that names it: the listening socket's inode
/// from /proc/net/tcp and tcp6, then the process whose /proc/PID/fd links to it.
enum PortOwners: PortOwnerLookup {
    /// `port 5432 is in use by pid 812 (postgres -D /var/lib/...)`, as far as /proc shows.
    static func describeHolder(of port: Int) -> String {
        guard listeningInode(port: port) != nil else { return "port \(port) is in use" }
        guard let pid = holder(of: port) else { return "port \(port) is in use (by a process this user cannot see)" }
        let command = ProcessTable.commandLine(pid) ?? "?"
        return "port \(port) is in use by pid \(pid) (\(command.prefix(120)))"
    }

    /// The process listening on `port`, as far as /proc shows.
    static func holder(of port: Int) -> Int32? {
        guard let inode = listeningInode(port: port) else { return nil }
        for pid in ProcessTable.allPids() {
            let fdDir = "/proc/\(pid)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdDir) else { continue }
            for fd in fds
            where (try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd)) == "socket:[\(inode)]"
            {
                return pid
            }
        }
        return nil
    }

    /// The socket inode listening on `port`, from /proc/net/tcp and tcp6.
    static func listeningInode(port: Int) -> String? {
        let hexPort = String(port, radix: 16, uppercase: true).leftPadded(to: 4)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9 else { continue }
                let local = fields[1]
                if local.hasSuffix(":" + hexPort), fields[3] == "0A" { return String(fields[9]) }
            }
        }
        return nil
    }
}
