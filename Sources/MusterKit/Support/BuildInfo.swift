import CMusterShims

/// What `muster --version` prints: the release number and the commit it was built from.
public enum BuildInfo {
    /// Raised by hand at each release (scripts/package names the tarball after it).
    public static let version = "0.6.0"

    public static var commit: String { String(cString: muster_build_commit()) }

    /// `0.6.0 (commit 1a2b3c4)`.
    public static var line: String { "\(version) (commit \(commit))" }
}
