import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starting and reaping child processes without Foundation's `Process`, shared by gatewayctl's
/// command backend and the test support.
///
/// `Process` passes on the spawning thread's signal mask (Swift concurrency's worker threads block
/// almost every signal, so a child started from an async context never sees SIGTERM), and its
/// exit detection can miss a child's exit under load. Here the child gets an empty signal mask
/// and default dispositions, and a dedicated thread blocks in waitpid.
package enum CleanSpawn {
    /// posix_spawn (or posix_spawnp with `searchPath`) with an empty signal mask and default
    /// signal dispositions; `fileActions` sets up the child's descriptors. With
    /// `newProcessGroup` the child leads a process group of its own (its pid is the group id),
    /// so a signal can reach everything it started, such as the commands of a `sh -c`.
    /// - Returns: the pid, or the errno posix_spawn failed with.
    package static func spawn(
        executable: String, arguments: [String], environment: [String: String]?, searchPath: Bool = false,
        newProcessGroup: Bool = false, fileActions configure: (inout posix_spawn_file_actions_t) -> Void
    ) -> Result<pid_t, SpawnError> {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        #if canImport(Darwin)
        flags |= POSIX_SPAWN_CLOEXEC_DEFAULT // what closefrom does on Linux, below
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        configure(&fileActions)
        // Nothing but stdin, stdout and stderr reaches the child: SwiftNIO opens its sockets
        // without close-on-exec, so a child would otherwise hold this process's connections
        // (a host's device stream stayed open, and the device online, after the host was killed).
        #if canImport(Glibc)
        _ = closeFrom?(&fileActions, 3)
        #endif

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let pairs = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp: [UnsafeMutablePointer<CChar>?] = pairs.map { strdup($0) } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let result =
            searchPath
            ? posix_spawnp(&pid, executable, &fileActions, &attributes, argv, envp)
            : posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else { return .failure(SpawnError(executable: executable, code: result)) }
        return .success(pid)
    }

    /// Starts a thread that blocks in waitpid and calls `onExit` with the exit status (128+signal
    /// when the child was killed by a signal) the moment the child exits.
    package static func reap(_ pid: pid_t, onExit: @escaping @Sendable (Int32) -> Void) {
        Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let signal = status & 0x7f
            onExit(signal == 0 ? (status >> 8) & 0xff : 128 + signal)
        }.start()
    }
}

#if canImport(Glibc)
/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later), looked up at run time: the
/// header declares it only under `_GNU_SOURCE`, which Swift's Glibc module does not define.
private let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "posix_spawn_file_actions_addclosefrom_np") else {
        return nil
    }
    return unsafeBitCast(
        symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()
#endif

package struct SpawnError: Error, CustomStringConvertible, Sendable {
    package let executable: String
    package let code: Int32

    package var description: String {
        let reason = strerror(code).map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) }
        return "cannot start \(executable): \(reason ?? "error \(code)")"
    }
}
