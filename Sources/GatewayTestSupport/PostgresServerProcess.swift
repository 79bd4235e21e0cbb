import Foundation

/// A private, throw-away Postgres cluster for tests that stop and start the database.
/// Postgres refuses to run as root, so as root every step runs as the `postgres` user.
public final class PostgresServerProcess: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let binDirectory: String

    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable" }

    public init() throws {
        let candidates = [
            ProcessInfo.processInfo.environment["PG_BIN"], "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
        ].compactMap { $0 }
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }) else {
            throw MissingTestServiceError(description: "Postgres binaries (initdb, pg_ctl) not found; run `bash scripts/test.sh`, which installs them")
        }
        binDirectory = bin
        port = try freeLoopbackPort()
        directory = NSTemporaryDirectory() + "gateway-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try Self.run("/bin/chown", ["postgres:postgres", directory])
        }
        try runAsPostgres("initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    }

    public func start() throws {
        try runAsPostgres("pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "30",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        ])
    }

    public func stop() throws {
        try runAsPostgres("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    /// Stops the server (if running) and deletes its files.
    public func destroy() {
        _ = try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func runAsPostgres(_ tool: String, _ arguments: [String]) throws {
        let executable = "\(binDirectory)/\(tool)"
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try Self.run(executable, arguments)
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MissingTestServiceError(
                description: "\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: data, as: UTF8.self))")
        }
    }
}
