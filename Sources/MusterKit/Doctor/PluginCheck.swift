import Foundation

/// Whether the Python environment a user runs pytest from has muster's pytest plugin,
/// and the one command that installs it from what came with this muster: the wheel
/// that `scripts/install` and the release tarball put in `PREFIX/share/muster/`, or,
/// for a build in a checkout, the plugin's source folder.
public struct PluginCheck: Codable, Sendable {
    /// The interpreter looked at: the active virtualenv's, else `python3` on PATH (or,
    /// when that one is externally managed, `./.venv`'s, if there is one).
    public var python: String?
    public var installed: Bool
    /// The interpreter is not a virtualenv's and its distribution marks it externally
    /// managed (PEP 668: Debian's and Ubuntu's `python3`), so pip refuses to install into
    /// it: the install command then makes `./.venv` and installs there.
    public var externallyManaged: Bool?
    /// What the install command installs from (a wheel, or a source folder).
    public var source: String?
    public var install: String?

    /// Prints `yes` or `no` (the plugin is importable), then ` managed` for PEP 668.
    static let query = """
        import importlib.util as u, os, sys, sysconfig
        managed = sys.prefix == sys.base_prefix and os.path.isfile(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'))
        print(('yes' if u.find_spec('pytest_muster') else 'no') + (' managed' if managed else ''))
        """

    public static func examine(environment: [String: String], executable: String? = nil) -> PluginCheck {
        let executable = executable ?? SystemPaths.executable
        var python = interpreter(environment: environment)
        let ask = { (python: String?) in
            (python.flatMap { QueryProgram.firstLine([$0, "-c", query]) } ?? "").split(separator: " ")
        }
        var answer = ask(python)
        // pip cannot install into an externally managed python3, so the install command
        // below makes ./.venv: when it is there, that is the environment to look in.
        let local = FileManager.default.currentDirectoryPath + "/.venv/bin/python3"
        if answer.contains("managed"), FileManager.default.isExecutableFile(atPath: local) {
            python = local
            answer = ask(local)
        }
        let source = executable.flatMap(shippedPlugin(besides:))
        let installed = answer.first == "yes"
        let managed = answer.contains("managed")
        var install: String?
        if !installed, let python, let source {
            install =
                managed
                ? "\(ShellQuote.quote(python)) -m venv .venv && .venv/bin/python3 -m pip install \(ShellQuote.quote(source))"
                : "\(ShellQuote.quote(python)) -m pip install \(ShellQuote.quote(source))"
        }
        return PluginCheck(
            python: python, installed: installed, externallyManaged: python == nil ? nil : managed, source: source,
            install: install)
    }

    static func interpreter(environment: [String: String]) -> String? {
        if let venv = environment["VIRTUAL_ENV"], FileManager.default.isExecutableFile(atPath: venv + "/bin/python") {
            return venv + "/bin/python"
        }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `PREFIX/share/muster/pytest_muster-*.whl` for `PREFIX/bin/muster`; for a build in a
    /// checkout (`REPO/.build/CONFIG/muster`), `REPO/integrations/pytest-muster`.
    static func shippedPlugin(besides executable: String) -> String? {
        let binFolder = (executable as NSString).deletingLastPathComponent
        let share = ((binFolder as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
            "share/muster")
        if let wheel = ((try? FileManager.default.contentsOfDirectory(atPath: share)) ?? [])
            .filter({ $0.hasPrefix("pytest_muster-") && $0.hasSuffix(".whl") }).sorted().last
        {
            return share + "/" + wheel
        }
        var folder = binFolder
        for _ in 0..<4 {
            folder = (folder as NSString).deletingLastPathComponent
            let plugin = folder + "/integrations/pytest-muster"
            if FileManager.default.fileExists(atPath: plugin + "/pyproject.toml") { return plugin }
        }
        return nil
    }
}
