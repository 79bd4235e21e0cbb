import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a throw-away server could not be started. Tests that need one must fail with this rather
/// than skip, so a missing `redis-server` can never make a CI run look green.
public struct RedisServerProcessError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A private `redis-server` for one test: its own temp directory, a free loopback port, no
/// persistence. `restart()` comes back on the same port, so clients can test reconnection.
///
/// Thread-safe; the state is guarded by a lock.
public final class RedisServerProcess: @unchecked Sendable {
    /// The loopback port the server listens on; fixed for the lifetime of this object.
    public let port: Int
    /// Addresses passed to `--bind`.
    public let bindAddresses: [String]
    /// Extra command line arguments, e.g. `["--requirepass", "secret"]`.
    public let extraArguments: [String]
    /// When set, the server speaks only TLS on `port`.
    public let tls: TLSFiles?

    /// PEM files for a TLS-only server (clients are not asked for certificates).
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var privateKey: String
        public var caCertificate: String

        public init(certificate: String, privateKey: String, caCertificate: String) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.caCertificate = caCertificate
        }
    }
    /// Working directory with the log file; removed by `stop()`.
    public let directory: URL

    private let executable: URL
    private let lock = NSLock()
    private var process: Process?

    /// `redis://127.0.0.1:<port>` (`rediss://` with TLS; no credentials).
    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }
    public var host: String { "127.0.0.1" }
    public var logFile: URL { directory.appendingPathComponent("redis.log") }

    /// Finds `redis-server` and reserves a port; does not start it yet.
    public init(bindAddresses: [String] = ["127.0.0.1"], arguments: [String] = [], tls: TLSFiles? = nil) throws {
        guard let executable = Self.findExecutable("redis-server") else {
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
        self.port = try Self.reserveLoopbackPort()
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redis-test-\(port)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Creates and starts a server.
    public static func start(
        bindAddresses: [String] = ["127.0.0.1"],
        arguments: [String] = [],
        tls: TLSFiles? = nil
    ) async throws -> RedisServerProcess {
        let server = try RedisServerProcess(bindAddresses: bindAddresses, arguments: arguments, tls: tls)
        try await server.start()
        return server
    }

    /// Starts the server and waits (up to 10 s) until it accepts connections.
    public func start() async throws {
        let process = Process()
        process.executableURL = executable
        process.currentDirectoryURL = directory
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
        process.arguments =
            listenArguments + [
                "--bind", bindAddresses.joined(separator: " "),
                "--dir", directory.path,
                "--logfile", logFile.path,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
            ] + extraArguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice

        try lock.withLock {
            guard self.process == nil else { throw RedisServerProcessError("redis-server on port \(port) already running") }
            // Truncate the old log so readiness is judged on this run's output only.
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            try process.run()
            self.process = process
        }

        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning {
                lock.withLock { self.process = nil }
                throw RedisServerProcessError("redis-server exited with status \(process.terminationStatus):\n\(logTail())")
            }
            if let log = try? String(contentsOf: logFile, encoding: .utf8), log.contains("Ready to accept connections") {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await kill()
        throw RedisServerProcessError("redis-server did not become ready within 10 s:\n\(logTail())")
    }

    /// Graceful stop (SIGTERM), waiting for the process to exit.
    public func stop() async {
        await terminate(signal: SIGTERM)
    }

    /// Abrupt stop (SIGKILL), waiting for the process to exit.
    public func kill() async {
        await terminate(signal: SIGKILL)
    }

    /// Stops gracefully and starts again on the same port.
    public func restart() async throws {
        await stop()
        try await start()
    }

    /// Stops the server if running and deletes its directory.
    public func cleanUp() async {
        await kill()
        try? FileManager.default.removeItem(at: directory)
    }

    private func terminate(signal: Int32) async {
        guard let process = lock.withLock({ () -> Process? in
            defer { self.process = nil }
            return self.process
        }) else { return }
        if process.isRunning {
            _ = sendSignal(process.processIdentifier, signal)
        }
        // Poll instead of waitUntilExit() so no thread is blocked.
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            _ = sendSignal(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }

    deinit {
        if let process, process.isRunning {
            _ = sendSignal(process.processIdentifier, SIGKILL)
        }
    }

    private func logTail() -> String {
        guard let log = try? String(contentsOf: logFile, encoding: .utf8) else { return "(no log)" }
        return log.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    private static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Asks the kernel for a free port by binding port 0 on 127.0.0.1, then releases it.
    private static func reserveLoopbackPort() throws -> Int {
        #if canImport(Darwin)
        let socketType = SOCK_STREAM
        #else
        let socketType = Int32(SOCK_STREAM.rawValue)
        #endif
        let descriptor = socket(AF_INET, socketType, 0)
        guard descriptor >= 0 else { throw RedisServerProcessError("socket() failed: errno \(errno)") }
        defer { close(descriptor) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw RedisServerProcessError("bind() failed: errno \(errno)") }

        var actual = sockaddr_in()
        var actualLength = length
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &actualLength) }
        }
        guard named == 0 else { throw RedisServerProcessError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: actual.sin_port))
    }
}

/// `kill(2)`; a free function because the instance method `kill()` shadows it inside the class.
private func sendSignal(_ pid: pid_t, _ signal: Int32) -> Int32 {
    kill(pid, signal)
}
