import Foundation

/// Where a Postgres cluster lives when muster runs as root. Postgres then runs as the
/// `postgres` user, who often cannot enter the project folder (any project under
/// `/root`, or a `mktemp -d` folder, is mode 0700). Rather than refuse, the cluster
/// lives in a folder of its own under `/var/lib/muster/postgres/`, owned by that user,
/// and `.muster/PROJECT/data/SERVICE` is a symbolic link to it. The folder's name is a
/// hash of the link's absolute path, so two projects (or two services) never share one.
/// `down` keeps it; `down --volumes` removes the link and the folder.
public enum PostgresDataHome {
    /// Created 0711 by root, so the `postgres` user passes through but cannot list it.
    public static let base = "/var/lib/muster/postgres"

    /// The folder Postgres uses, and the project link to create when it is elsewhere.
    static func resolve(_ projectDataDir: String, credentials: ServicePlan.Credentials?) -> (
        dataDir: String, link: String?
    ) {
        guard let credentials else { return (projectDataDir, nil) }
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: projectDataDir) {
            return (target, projectDataDir)
        }
        // A cluster already in the project folder stays there (and is refused with the
        // reason when its folder cannot be entered): data is never moved behind a user's back.
        if FileManager.default.fileExists(atPath: projectDataDir + "/PG_VERSION") { return (projectDataDir, nil) }
        if (try? PostgresEngine.checkReachable(projectDataDir, by: credentials)) != nil { return (projectDataDir, nil) }
        return (base + "/" + ProjectPaths.hash(projectDataDir), projectDataDir)
    }

    /// Makes `/var/lib/muster` and `folder` in it, 0711 (the `postgres` user passes
    /// through); `purpose` says what for when it cannot.
    static func makeFolder(_ folder: String, for purpose: String) throws {
        for made in ["/var/lib/muster", folder] {
            do {
                try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: true)
            } catch {
                throw MusterError(.environment, "cannot create \(made) \(purpose): \(error.localizedDescription)")
            }
            chmod(made, 0o711)
        }
    }

    /// Makes the base folders and the project's link (before initdb).
    static func prepareLink(_ link: String, to dataDir: String) throws {
        try makeFolder(base, for: "for the Postgres cluster")
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == dataDir { return }
        try? FileManager.default.removeItem(atPath: link)  // an empty folder left by an earlier attempt
        do {
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dataDir)
        } catch {
            throw MusterError(.environment, "cannot link \(link) to \(dataDir): \(error.localizedDescription)")
        }
    }

    /// The clusters that the links in a project's data folder point to (for `down --volumes`).
    public static func linkedClusters(in projectDataDir: String) -> [String] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: projectDataDir)) ?? []).compactMap { entry in
            guard let target = try? fm.destinationOfSymbolicLink(atPath: projectDataDir + "/" + entry),
                target.hasPrefix(base + "/")
            else { return nil }
            return target
        }
    }
}
