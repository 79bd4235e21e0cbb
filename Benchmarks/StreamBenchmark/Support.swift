import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A benchmark step that could not be carried out.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: Clock

/// Nanoseconds on CLOCK_MONOTONIC. Send and receive timestamps are taken in the same process
/// (the driver), so they are directly comparable.
@inline(__always)
func monotonicNanos() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

// MARK: Statistics

/// Nearest-rank percentiles of a set of latencies in nanoseconds.
struct LatencySummary: Sendable {
    let count: Int
    let p50: Double
    let p99: Double
    let p999: Double
    let max: Double

    /// All figures in milliseconds.
    init?(nanoseconds samples: [Int64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ quantile: Double) -> Double {
            let index = Swift.max(0, Swift.min(sorted.count - 1, Int((quantile * Double(sorted.count)).rounded(.up)) - 1))
            return Double(sorted[index]) / 1_000_000
        }
        count = sorted.count
        p50 = rank(0.50)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = Double(sorted[sorted.count - 1]) / 1_000_000
    }
}

func milliseconds(_ value: Double) -> String {
    value < 10 ? String(format: "%.3f ms", value) : String(format: "%.1f ms", value)
}

// MARK: Process limits and memory

/// Raises RLIMIT_NOFILE to `wanted` (or the hard limit if lower); returns the soft limit in force.
@discardableResult
func raiseOpenFileLimit(to wanted: UInt64 = 20_000) -> UInt64 {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    let target = min(rlim_t(wanted), limit.rlim_max)
    if limit.rlim_cur < target {
        limit.rlim_cur = target
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return UInt64(limit.rlim_cur)
}

/// A /proc file's text (its size reads as 0, so it is read until end of file).
func readProcFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Resident set size of a process in KiB, from /proc/PID/status.
func residentKilobytes(pid: pid_t) -> Int? {
    guard let status = readProcFile("/proc/\(pid)/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

/// Processes whose parent is `parent` (Nchan's workers under its master), from /proc/PID/stat.
func childProcesses(of parent: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry), let stat = readProcFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the command name: state, then the parent's pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
    }.sorted()
}

/// Threads of a process, from /proc/PID/status (to explain memory figures).
func threadCount(pid: pid_t) -> Int? {
    guard let status = readProcFile("/proc/\(pid)/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
        return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
}

/// CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat.
func cpuSeconds(pid: pid_t) -> Double? {
    guard let stat = readProcFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU time the whole machine has been busy (everything but idle and iowait), and the part
/// of it spent in interrupts and softirqs (loopback TCP is processed there, and that time is
/// not always charged to a process), in seconds, from the first line of /proc/stat.
func machineBusySeconds() -> (busy: Double, interrupts: Double)? {
    guard let stat = readProcFile("/proc/stat"), let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else {
        return nil
    }
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // included in user.
    let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard ticks.count >= 8 else { return nil }
    let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
    let busy = ticks[0..<8].reduce(0, +) - ticks[3] - ticks[4]
    return (busy / tick, (ticks[5] + ticks[6]) / tick)
}

/// Average cores busy during a phase.
struct CPUUsage {
    var server = 0.0
    var driver = 0.0
    /// The whole machine.
    var machine = 0.0
    /// Interrupts and softirqs not charged to a process.
    var interrupts = 0.0
    /// Everything else: other processes, redis-server included.
    var other: Double { max(0, machine - server - driver - interrupts) }

    var description: String {
        String(format: "CPU cores: server %.2f, driver %.2f, irq/softirq %.2f, other processes %.2f", server, driver, interrupts, other)
    }
}

/// Measures the CPU the server (the gateway child, or Nchan's workers), this process and the
/// machine use over a phase.
struct CPUMeter {
    let serverPIDs: [pid_t]
    let started = monotonicNanos()
    let serverStart: Double
    let driverStart: Double
    let machineStart: (busy: Double, interrupts: Double)

    init(serverPID: pid_t) { self.init(serverPIDs: [serverPID]) }

    init(serverPIDs: [pid_t]) {
        self.serverPIDs = serverPIDs
        serverStart = Self.serverSeconds(serverPIDs)
        driverStart = cpuSeconds(pid: getpid()) ?? 0
        machineStart = machineBusySeconds() ?? (0, 0)
    }

    static func serverSeconds(_ pids: [pid_t]) -> Double {
        pids.reduce(0) { $0 + (cpuSeconds(pid: $1) ?? 0) }
    }

    /// Average cores busy since `init`.
    func read() -> CPUUsage {
        let wall = Double(monotonicNanos() - started) / 1e9
        guard wall > 0 else { return CPUUsage() }
        let machine = machineBusySeconds() ?? machineStart
        return CPUUsage(
            server: (Self.serverSeconds(serverPIDs) - serverStart) / wall,
            driver: ((cpuSeconds(pid: getpid()) ?? 0) - driverStart) / wall,
            machine: (machine.busy - machineStart.busy) / wall,
            interrupts: (machine.interrupts - machineStart.interrupts) / wall)
    }
}

/// This executable's absolute path, to start the `server` subcommand as a child.
func currentExecutablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

// Child processes and free ports come from GatewayTestSupport (ChildProcess, freeLoopbackPort).
