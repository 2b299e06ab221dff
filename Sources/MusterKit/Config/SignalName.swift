import Foundation

/// Signal names as written in stack files (`SIGTERM`, `TERM`, `15`).
public enum SignalName {
    public static let table: [(name: String, number: Int32)] = [
        ("SIGHUP", SIGHUP), ("SIGINT", SIGINT), ("SIGQUIT", SIGQUIT), ("SIGKILL", SIGKILL),
        ("SIGUSR1", SIGUSR1), ("SIGUSR2", SIGUSR2), ("SIGTERM", SIGTERM), ("SIGABRT", SIGABRT),
        ("SIGALRM", SIGALRM), ("SIGWINCH", SIGWINCH), ("SIGPWR", SIGPWR), ("SIGSTOP", SIGSTOP),
        ("SIGCONT", SIGCONT),
    ]

    public static func parse(_ text: String) -> Int32? {
        let upper = text.uppercased()
        if let number = Int32(upper), table.contains(where: { $0.number == number }) { return number }
        let full = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        return table.first { $0.name == full }?.number
    }

    public static func name(of number: Int32) -> String {
        table.first { $0.number == number }?.name ?? "signal \(number)"
    }
}
