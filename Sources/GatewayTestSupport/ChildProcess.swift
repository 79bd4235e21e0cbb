import Foundation
import ProcessSpawning

#if canImport(Glibc)
import Glibc
#endif

package struct ChildProcessError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// A child process started with posix_spawn and reaped by a thread of its own
/// (ProcessSpawning's `SpawnedChild`), its output appended to a file.
///
/// Not Foundation's `Process`, for two reasons seen in this suite: it passes on the spawning
/// thread's signal mask (Swift concurrency's worker threads block almost every signal, so a
/// server started from an async test never sees SIGTERM), and its exit detection can miss a
/// child's exit under load, leaving `waitUntilExit()` hanging on a zombie. Here the child gets an
/// empty mask and default dispositions, output goes to a file, and waiting holds no thread.
package final class ChildProcess: Sendable {
    let child: SpawnedChild

    package var pid: pid_t { child.pid }
    package var startedAt: ContinuousClock.Instant { child.startedAt }

    /// - Parameters:
    ///   - environment: the whole environment, or nil to inherit this process's.
    ///   - outputPath: file that receives stdout and stderr (appended), or nil for /dev/null.
    package init(
        executable: String, arguments: [String], environment: [String: String]? = nil,
        workingDirectory: String? = nil, outputPath: String? = nil
    ) throws {
        // glibc's addchdir_np is not visible to Swift; a shell that cd's and execs keeps the same pid.
        var executable = executable
        var arguments = arguments
        if let workingDirectory {
            arguments = ["-c", #"cd "$0" && exec "$@""#, workingDirectory, executable] + arguments
            executable = "/bin/sh"
        }
        let spawned = SpawnedChild.spawn(executable: executable, arguments: arguments, environment: environment) { fileActions in
            posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&fileActions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        }
        switch spawned {
        case .success(let child): self.child = child
        case .failure(let error): throw ChildProcessError("posix_spawn \(executable) failed: \(error)")
        }
    }

    /// The exit status (128+signal when killed by a signal), or nil while running.
    package var terminationStatus: Int32? { child.terminationStatus }

    /// How long the child ran, once it has exited.
    package var runningTime: Duration? { child.runningTime }

    package var isRunning: Bool { child.isRunning }

    package func send(_ signal: Int32) { child.send(signal) }

    /// The exit status, or nil when still running after `timeout`.
    package func waitForExit(timeout: Duration) async -> Int32? { await child.waitForExit(timeout: timeout) }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    package func stop(grace: Duration = .seconds(10)) async -> Int32? {
        send(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        send(SIGKILL)
        return await waitForExit(timeout: .seconds(2))
    }

    /// Runs a command to completion; throws with its output when it fails or overruns.
    @discardableResult
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(60)
    ) async throws -> String {
        let outputPath = NSTemporaryDirectory() + "gateway-cmd-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, outputPath: outputPath)
        let status = await child.waitForExit(timeout: timeout)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard let status else {
            child.send(SIGKILL)
            throw ChildProcessError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout): \(output)")
        }
        guard status == 0 else {
            throw ChildProcessError("\(executable) \(arguments.joined(separator: " ")) exited \(status): \(output)")
        }
        return output
    }
}

/// The full path of an executable on PATH, if any.
package func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
