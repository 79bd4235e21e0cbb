import Foundation

/// A real `gateway` process (the binary `scripts/test.sh` built), for tests of start-up,
/// configuration errors, signals and several replicas sharing Redis and Postgres.
package final class GatewayProcess: Sendable {
    package let arguments: [String]
    package let environment: [String: String]
    private let directory: String
    private let child: ChildProcess

    /// `GATEWAY_BINARY`, else the `gateway` `swift build` put next to the tests.
    package static func binaryPath() throws -> String {
        try TestEnvironment.builtProduct("gateway", variable: "GATEWAY_BINARY")
    }

    /// Starts the process. `environment` is the whole environment: nothing is inherited, as with
    /// `env -i`. It runs in an empty directory so a developer's `.env` never leaks into a test.
    package init(arguments: [String] = ["serve"], environment: [String: String]) throws {
        self.arguments = arguments
        self.environment = environment
        directory = NSTemporaryDirectory() + "gateway-proc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        child = try ChildProcess(
            executable: try Self.binaryPath(), arguments: arguments, environment: environment, workingDirectory: directory,
            outputPath: "\(directory)/output.log")
    }

    package var pid: Int32 { child.pid }

    /// Everything the process wrote to stdout and stderr so far.
    package var output: String {
        (try? String(contentsOfFile: "\(directory)/output.log", encoding: .utf8)) ?? ""
    }

    package var isRunning: Bool { child.isRunning }

    /// From spawn to exit, measured by the reaper thread; nil while running.
    package var runningTime: Duration? { child.runningTime }

    package func signal(_ signal: Int32) {
        child.send(signal)
    }

    /// The exit status, or nil if the process is still running after `timeout`.
    package func waitForExit(timeout: Duration) async -> Int32? {
        await child.waitForExit(timeout: timeout)
    }

    /// Waits until `text` appears in the output; false on timeout or exit.
    package func waitForOutput(containing text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !child.isRunning { return output.contains(text) }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    /// SIGKILL, for tests that tear a replica down hard, and for cleanup.
    package func kill() {
        child.send(SIGKILL)
    }
}
