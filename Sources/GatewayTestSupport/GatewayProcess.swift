import Foundation

/// A real `gateway` process (the binary `scripts/test.sh` built), for tests of start-up,
/// configuration errors, signals and several replicas sharing Redis and Postgres.
public final class GatewayProcess: @unchecked Sendable {
    public let arguments: [String]
    public let environment: [String: String]
    private let process = Process()
    private let lock = NSLock()
    private var captured = Data()

    public static func binaryPath() throws -> String {
        let path = try TestEnvironment.value("GATEWAY_BINARY")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingTestServiceError(description: "GATEWAY_BINARY \(path) is not an executable")
        }
        return path
    }

    /// `environment` is the whole environment: nothing is inherited, as with `env -i`.
    public init(arguments: [String] = ["serve"], environment: [String: String]) {
        self.arguments = arguments
        self.environment = environment
    }

    public func start() throws {
        process.executableURL = URL(fileURLWithPath: try Self.binaryPath())
        process.arguments = arguments
        process.environment = environment
        // Run from an empty directory so a developer's .env never leaks into a test.
        let directory = NSTemporaryDirectory() + "gateway-proc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.captured.append(data) }
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Everything the process wrote to stdout and stderr so far.
    public var output: String {
        lock.withLock { String(decoding: captured, as: UTF8.self) }
    }

    public var isRunning: Bool { process.isRunning }

    public func signal(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
    }

    /// The exit status, or nil if the process is still running after `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Let the reader drain what was written just before exit.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    /// Waits until `text` appears in the output; false on timeout or exit.
    public func waitForOutput(containing text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    /// SIGKILL, for tests that tear a replica down hard, and for cleanup.
    public func kill() {
        if process.isRunning { signal(SIGKILL) }
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}
