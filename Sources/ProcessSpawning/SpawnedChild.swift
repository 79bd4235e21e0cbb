import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One spawned child and what its reaper thread saw: the single owner of child-process state,
/// behind gatewayctl's `Subprocess` (pipes) and the test support's `ChildProcess` (a log file).
///
/// Signals are sent only while the child has not been reaped, under the same lock the reaper
/// takes, so a signal can never reach another process that was given the same pid later.
package final class SpawnedChild: Sendable {
    package let pid: pid_t
    /// When the child was spawned; with `runningTime`, measured by the reaper thread so the
    /// figures do not depend on how busy Swift's cooperative thread pool is.
    package let startedAt: ContinuousClock.Instant
    /// Whether the child leads its own process group: signals then go to the whole group.
    package let leadsProcessGroup: Bool
    private let state = NIOLockedValueBox(State())

    private struct State {
        var exitStatus: Int32?
        var exitedAt: ContinuousClock.Instant?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    /// Spawns with `CleanSpawn.spawn` and starts reaping at once.
    package static func spawn(
        executable: String, arguments: [String], environment: [String: String]?, searchPath: Bool = false,
        newProcessGroup: Bool = false, fileActions: (inout posix_spawn_file_actions_t) -> Void
    ) -> Result<SpawnedChild, SpawnError> {
        let startedAt = ContinuousClock.now
        return CleanSpawn.spawn(
            executable: executable, arguments: arguments, environment: environment, searchPath: searchPath,
            newProcessGroup: newProcessGroup, fileActions: fileActions
        ).map { SpawnedChild(pid: $0, startedAt: startedAt, leadsProcessGroup: newProcessGroup) }
    }

    private init(pid: pid_t, startedAt: ContinuousClock.Instant, leadsProcessGroup: Bool) {
        self.pid = pid
        self.startedAt = startedAt
        self.leadsProcessGroup = leadsProcessGroup
        CleanSpawn.reap(pid) { [state] code in
            let exitedAt = ContinuousClock.now
            let waiters = state.withLockedValue { state in
                state.exitStatus = code
                state.exitedAt = exitedAt
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: code) }
        }
    }

    /// The exit status (128+signal when killed by a signal), or nil while running.
    package var terminationStatus: Int32? { state.withLockedValue { $0.exitStatus } }

    package var isRunning: Bool { terminationStatus == nil }

    /// How long the child ran, once it has exited.
    package var runningTime: Duration? { state.withLockedValue { state in state.exitedAt.map { $0 - startedAt } } }

    /// Sends `signal` unless the child has already been reaped; to its whole process group when
    /// it leads one (while the leader is unreaped its pid, and so the group id, cannot be reused).
    package func send(_ signal: Int32) {
        state.withLockedValue { state in
            if state.exitStatus == nil { _ = kill(leadsProcessGroup ? -pid : pid, signal) }
        }
    }

    /// Waits for the child to exit and returns its status.
    package func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = state.withLockedValue { state in
                if let status = state.exitStatus { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// The exit status, or nil when still running after `timeout`.
    package func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = terminationStatus { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    deinit {
        send(SIGKILL)
    }
}
