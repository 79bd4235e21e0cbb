import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a throw-away server could not be started. Tests that need one must fail with this rather
/// than skip, so a missing `redis-server` can never make a CI run look green.
package struct RedisServerProcessError: Error, CustomStringConvertible {
    package var description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// A private `redis-server` for one test: its own temp directory, a free loopback port, no
/// persistence. `restart()` comes back on the same port, so clients can test reconnection.
///
/// Ports are picked below the kernel's ephemeral range, so they cannot collide with the source
/// ports of the many client connections parallel tests open; if one is taken anyway, the first
/// start moves to another port.
///
/// Thread-safe; the mutable state is behind one lock.
package final class RedisServerProcess: Sendable {
    /// The loopback port the server listens on. Fixed once `start()` has succeeded.
    package var port: Int { state.withLockedValue { $0.port } }
    /// Addresses passed to `--bind`.
    package let bindAddresses: [String]
    /// Extra command line arguments, e.g. `["--requirepass", "secret"]`.
    package let extraArguments: [String]
    /// When set, the server speaks only TLS on `port`.
    package let tls: TLSFiles?

    /// PEM files for a TLS-only server (clients are not asked for certificates).
    package struct TLSFiles: Sendable {
        package var certificate: String
        package var privateKey: String
        package var caCertificate: String

        package init(certificate: String, privateKey: String, caCertificate: String) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.caCertificate = caCertificate
        }
    }

    /// Working directory with the log file; removed by `cleanUp()`.
    package let directory: URL

    private let executable: URL
    private let state: NIOLockedValueBox<State>

    private struct State {
        var process: ChildProcess?
        var port: Int
        var hasStarted = false
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` with TLS; no credentials).
    package var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }
    package var host: String { "127.0.0.1" }
    package var logFile: URL { directory.appendingPathComponent("redis.log") }

    /// Finds `redis-server` and reserves a port; does not start it yet.
    package init(bindAddresses: [String] = ["127.0.0.1"], arguments: [String] = [], tls: TLSFiles? = nil) throws {
        guard let executable = findExecutable("redis-server").map(URL.init(fileURLWithPath:)) else {
            throw RedisServerProcessError(
                "redis-server was not found on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? "")). "
                    + "Install it (e.g. `apt-get install redis-server` or `brew install redis`); "
                    + "these tests need a real server and do not skip."
            )
        }
        self.executable = executable
        self.bindAddresses = bindAddresses
        self.extraArguments = arguments
        self.tls = tls
        self.state = NIOLockedValueBox(State(port: try Self.pickFreePort()))
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redis-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Creates and starts a server.
    package static func start(
        bindAddresses: [String] = ["127.0.0.1"],
        arguments: [String] = [],
        tls: TLSFiles? = nil
    ) async throws -> RedisServerProcess {
        let server = try RedisServerProcess(bindAddresses: bindAddresses, arguments: arguments, tls: tls)
        do {
            try await server.start()
        } catch {
            await server.cleanUp()
            throw error
        }
        return server
    }

    /// Starts the server and waits (up to 10 s) until it accepts connections.
    package func start() async throws {
        for _ in 0..<5 {
            guard try await launch() == .addressInUse else {
                state.withLockedValue { $0.hasStarted = true }
                return
            }
            let mayMove = state.withLockedValue { !$0.hasStarted }
            if mayMove {
                let port = try Self.pickFreePort()
                state.withLockedValue { $0.port = port }
            } else {
                // Restarting: clients expect the same port, so wait for it to be released.
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        throw RedisServerProcessError("redis-server could not find a free port:\n\(logTail())")
    }

    private enum LaunchResult {
        case ready
        case addressInUse
    }

    private func launch() async throws -> LaunchResult {
        let port = self.port
        var listenArguments = ["--port", "\(port)"]
        if let tls {
            listenArguments = [
                "--port", "0",
                "--tls-port", "\(port)",
                "--tls-cert-file", tls.certificate,
                "--tls-key-file", tls.privateKey,
                "--tls-ca-cert-file", tls.caCertificate,
                "--tls-auth-clients", "no",
            ]
        }
        let arguments =
            listenArguments + [
                "--bind", bindAddresses.joined(separator: " "),
                "--dir", directory.path,
                "--logfile", logFile.path,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
            ] + extraArguments

        let process = try state.withLockedValue { state in
            guard state.process == nil else { throw RedisServerProcessError("redis-server on port \(state.port) already running") }
            // Truncate the old log so readiness is judged on this run's output only.
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            let process = try ChildProcess(executable: executable.path, arguments: arguments)
            state.process = process
            return process
        }

        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            if !process.isRunning {
                state.withLockedValue { $0.process = nil }
                if log.contains("Address already in use") { return .addressInUse }
                throw RedisServerProcessError("redis-server exited early:\n\(logTail())")
            }
            if log.contains("Ready to accept connections") {
                return .ready
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await kill()
        throw RedisServerProcessError("redis-server did not become ready within 10 s:\n\(logTail())")
    }

    /// Graceful stop (SIGTERM), waiting for the process to exit.
    package func stop() async {
        await terminate(signal: SIGTERM)
    }

    /// Abrupt stop (SIGKILL), waiting for the process to exit.
    package func kill() async {
        await terminate(signal: SIGKILL)
    }

    /// Stops gracefully and starts again on the same port.
    package func restart() async throws {
        await stop()
        try await start()
    }

    /// Kills the server if running and deletes its directory. Call when the test is done.
    package func cleanUp() async {
        await kill()
        try? FileManager.default.removeItem(at: directory)
    }

    private func terminate(signal: Int32) async {
        guard
            let process = state.withLockedValue({ state -> ChildProcess? in
                defer { state.process = nil }
                return state.process
            })
        else { return }
        process.send(signal)
        // Poll instead of blocking in waitpid() so no thread is tied up.
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            process.send(SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }

    deinit {
        state.withLockedValue { $0.process }?.send(SIGKILL)
    }

    private func logTail() -> String {
        guard let log = try? String(contentsOf: logFile, encoding: .utf8) else { return "(no log)" }
        return log.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    /// A random port below the ephemeral range that can currently be bound on 127.0.0.1.
    private static func pickFreePort() throws -> Int {
        var ephemeralStart = 32768
        if let range = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
            let first = range.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap({ Int($0) })
        {
            ephemeralStart = first
        }
        let candidates = 15000...max(15001, min(ephemeralStart, 32768) - 1)
        for _ in 0..<100 {
            let port = Int.random(in: candidates)
            if canBind(port: port) { return port }
        }
        throw RedisServerProcessError("no free port found in \(candidates)")
    }

    private static func canBind(port: Int) -> Bool {
        #if canImport(Darwin)
        let socketType = SOCK_STREAM
        #else
        let socketType = Int32(SOCK_STREAM.rawValue)
        #endif
        let descriptor = socket(AF_INET, socketType, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        // Same option redis-server uses, so ports in TIME_WAIT count as free, as they are for it.
        var reuse: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}
