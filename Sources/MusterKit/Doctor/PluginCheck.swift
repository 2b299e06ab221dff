import Foundation

/// Whether the Python environment a user runs pytest from has muster's pytest plugin,
/// and the one command that installs it from what came with this muster: the wheel
/// that `scripts/install` and the release tarball put in `PREFIX/share/muster/`, or,
/// for a build in a checkout, the plugin's source folder.
public struct PluginCheck: Codable, Sendable {
    /// The interpreter looked at: the active virtualenv's, else `python3` on PATH.
    public var python: String?
    public var installed: Bool
    /// What the install command installs from (a wheel, or a source folder).
    public var source: String?
    public var install: String?

    public static func examine(environment: [String: String], executable: String? = nil) -> PluginCheck {
        let executable = executable ?? SystemPaths.executable
        let python = interpreter(environment: environment)
        let answer = python.flatMap {
            QueryProgram.firstLine([
                $0, "-c", "import importlib.util as u; print('yes' if u.find_spec('pytest_muster') else 'no')",
            ])
        }
        let source = executable.flatMap(shippedPlugin(besides:))
        let installed = answer == "yes"
        var install: String?
        if !installed, let python, let source {
            install = "\(ShellQuote.quote(python)) -m pip install \(ShellQuote.quote(source))"
        }
        return PluginCheck(python: python, installed: installed, source: source, install: install)
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
