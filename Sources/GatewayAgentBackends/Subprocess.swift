import Foundation
import GatewayClient
import NIOConcurrencyHelpers
import ProcessSpawning

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with posix_spawn (``CleanSpawn``, not Foundation's `Process`), with
/// its stdin, stdout and stderr as pipes. Every blocking call (writing stdin, reading stdout and stderr, waitpid) runs
/// on a thread of its own, never on a NIO event loop or Swift's cooperative pool.
package final class Subprocess: Sendable {
    let child: SpawnedChild
    /// Our end of the child's stdin; -1 once closed.
    private let stdinDescriptor: NIOLockedValueBox<Int32>
    package var pid: pid_t { child.pid }
    /// Chunks of stdout as the child writes them; finishes at EOF.
    package let standardOutput: AsyncStream<[UInt8]>
    /// Chunks of stderr as the child writes them; finishes at EOF.
    package let standardError: AsyncStream<[UInt8]>

    /// - Parameters:
    ///   - environment: the whole environment, or nil to inherit this process's.
    ///   - newProcessGroup: start the child as the leader of a process group of its own.
    package init(executable: String, arguments: [String], environment: [String: String]? = nil, newProcessGroup: Bool = false) throws {
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard pipe(&stdinPipe) == 0 else { throw SubprocessError("pipe() failed") }
        guard pipe(&stdoutPipe) == 0 else {
            Self.closeAll(stdinPipe)
            throw SubprocessError("pipe() failed")
        }
        guard pipe(&stderrPipe) == 0 else {
            Self.closeAll(stdinPipe + stdoutPipe)
            throw SubprocessError("pipe() failed")
        }
        // Our ends must not leak into other children spawned concurrently.
        for descriptor in [stdinPipe[1], stdoutPipe[0], stderrPipe[0]] {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }

        let spawned = SpawnedChild.spawn(
            executable: executable, arguments: arguments, environment: environment, searchPath: true, newProcessGroup: newProcessGroup
        ) { fileActions in
            posix_spawn_file_actions_adddup2(&fileActions, stdinPipe[0], 0)
            posix_spawn_file_actions_adddup2(&fileActions, stdoutPipe[1], 1)
            posix_spawn_file_actions_adddup2(&fileActions, stderrPipe[1], 2)
            for descriptor in stdinPipe + stdoutPipe + stderrPipe {
                posix_spawn_file_actions_addclose(&fileActions, descriptor)
            }
        }
        Self.closeAll([stdinPipe[0], stdoutPipe[1], stderrPipe[1]])
        switch spawned {
        case .success(let child): self.child = child
        case .failure(let error):
            Self.closeAll([stdinPipe[1], stdoutPipe[0], stderrPipe[0]])
            throw SubprocessError(error.description)
        }
        self.stdinDescriptor = NIOLockedValueBox(stdinPipe[1])
        self.standardOutput = Self.reader(stdoutPipe[0])
        self.standardError = Self.reader(stderrPipe[0])
    }

    /// Runs `command` with `/bin/sh -c` in a process group of its own, so `send` reaches the
    /// commands the shell started too (a pipeline's last command, a `sleep` in a loop).
    package convenience init(shellCommand command: String, environment: [String: String]? = nil) throws {
        try self.init(executable: "/bin/sh", arguments: ["-c", command], environment: environment, newProcessGroup: true)
    }

    /// Writes `bytes` to the child's stdin (on a thread of its own, since a pipe may block).
    package func write(_ bytes: [UInt8]) async throws {
        let descriptor = stdinDescriptor.withLockedValue { $0 }
        guard descriptor >= 0 else { throw SubprocessError("stdin is closed") }
        try await Self.onThread {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw SubprocessError("writing to the command failed: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }

    /// Closes the child's stdin so it sees end of file.
    package func closeStandardInput() {
        let descriptor = stdinDescriptor.withLockedValue { descriptor in
            defer { descriptor = -1 }
            return descriptor
        }
        if descriptor >= 0 { close(descriptor) }
    }

    /// The exit status (128+signal when killed by a signal), or nil while running.
    package var terminationStatus: Int32? { child.terminationStatus }

    /// Waits for the child to exit and returns its status (128+signal when killed by a signal).
    package func waitForExit() async -> Int32 { await child.waitForExit() }

    package func send(_ signal: Int32) { child.send(signal) }

    deinit {
        closeStandardInput()
    }

    // MARK: Helpers

    private static func closeAll(_ descriptors: [Int32]) {
        for descriptor in descriptors where descriptor >= 0 { close(descriptor) }
    }

    /// Reads `descriptor` until EOF on a thread of its own.
    private static func reader(_ descriptor: Int32) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                continuation.yield(Array(buffer[0..<count]))
            }
            close(descriptor)
            continuation.finish()
        }.start()
        return stream
    }

    /// Runs a blocking closure on a new thread and awaits its result.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try work() })
            }.start()
        }
    }
}

package struct SubprocessError: Error, CustomStringConvertible, Sendable {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
