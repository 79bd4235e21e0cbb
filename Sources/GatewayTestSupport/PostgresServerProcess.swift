import Foundation

/// A private, throw-away Postgres cluster for tests that stop and start the database.
/// Postgres refuses to run as root, so as root every step runs as the `postgres` user.
package final class PostgresServerProcess: Sendable {
    package let port: Int
    package let directory: String
    private let binDirectory: String

    package var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable" }

    /// Creates the cluster (initdb) without starting it.
    package init() async throws {
        let candidates = [
            ProcessInfo.processInfo.environment["PG_BIN"], "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
        ].compactMap { $0 }
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }) else {
            throw MissingTestServiceError(
                description: "Postgres binaries (initdb, pg_ctl) not found; run `bash scripts/test.sh`, which installs them")
        }
        binDirectory = bin
        port = try freeLoopbackPort()
        directory = NSTemporaryDirectory() + "gateway-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try await ChildProcess.run("/bin/chown", ["postgres:postgres", directory])
        }
        try await runAsPostgres("initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    }

    package func start() async throws {
        try await runAsPostgres(
            "pg_ctl",
            [
                "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "30",
                "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start",
            ])
    }

    package func stop() async throws {
        try await runAsPostgres("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    /// Stops the server (if running) and deletes its files.
    package func destroy() async {
        _ = try? await stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func runAsPostgres(_ tool: String, _ arguments: [String]) async throws {
        let executable = "\(binDirectory)/\(tool)"
        if getuid() == 0 {
            try await ChildProcess.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try await ChildProcess.run(executable, arguments)
        }
    }
}
