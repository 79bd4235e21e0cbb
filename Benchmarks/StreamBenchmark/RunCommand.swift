import ArgumentParser
import Foundation
import GatewayTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Progress and results go to stdout unbuffered (FileHandle, not stdio, to stay clear of the
/// global `stdout` under strict concurrency).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// The driver: starts `server` as a child process, then measures from this process.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start the gateway as a child process and measure streaming latency, throughput and memory.")

    @Option(name: .customLong("redis-url"), help: "A throw-away Redis (the benchmark writes streams and publishes to it).")
    var redisURL: String

    @Option(help: "SSE subscribers of the fan-out stream for the latency and saturation phases.")
    var subscribers = 1000

    @Option(help: "Idle SSE connections for the memory phase.")
    var idle = 5000

    @Option(name: .customLong("idle-streams"), help: "Streams the idle connections are spread over; 0 means one stream per connection.")
    var idleStreams = 0

    @Option(
        name: .customLong("idle-route"),
        help: "Memory phase route: `stream` (the gateway's SSE responder) or `hold` (diagnostic: a bare long-lived response).")
    var idleRoute = "stream"

    @Option(help: "Appends per latency run (fewer when --latency-seconds would be exceeded at the pace).")
    var events = 2000

    @Option(
        name: .customLong("interval-ms"),
        help: "Milliseconds between appends in the fan-out latency runs; a comma-separated list runs each pace in turn.")
    var intervals = "50,2"

    @Option(name: .customLong("latency-seconds"), help: "Planned length cap of each latency run (events × interval).")
    var latencySeconds = 30.0

    @Option(name: .customLong("baseline-events"), help: "Appends for the single-subscriber baseline (every 2 ms); 0 skips it.")
    var baselineEvents = 1000

    @Option(help: "Concurrent POST connections appending events.")
    var posters = 4

    @Option(name: .customLong("saturation-seconds"), help: "Length of the saturation phase.")
    var saturationSeconds = 5.0

    @Option(
        name: .customLong("saturation-modes"),
        help: """
            Saturation runs, comma-separated: `open` (POSTers append back to back; the fan-out may fall behind) and/or \
            `closed` (each POSTer waits until its event reached every subscriber).
            """)
    var saturationModes = "open,closed"

    @Option(name: .customLong("floor-messages"), help: "PUBLISH round trips measured for the Redis floor.")
    var floorMessages = 2000

    @Option(
        help: """
            Phases to run, comma-separated: floor, memory, latency, saturation; side by side (gateway and, with --nchan-port, \
            Nchan): idle, single, fanout, chat, search, relay (gateway only). Default: floor,memory,latency,saturation, or with \
            --nchan-port floor,idle,single,fanout,chat,search,relay.
            """)
    var phases: String?

    @Option(name: .customLong("nchan-port"), help: "Port of an Nchan (nginx) on 127.0.0.1 to run the side-by-side phases against.")
    var nchanPort: Int?

    @Option(name: .customLong("nchan-pid"), help: "PID of that nginx's master process; its workers' RSS and CPU are Nchan's.")
    var nchanPID: Int32?

    @Option(help: "Events per second of the side-by-side 1-subscriber, fan-out and relay phases.")
    var rate = 20.0

    @Option(name: .customLong("paced-seconds"), help: "Length of each side-by-side latency run (single, fanout, chat, relay).")
    var pacedSeconds = 20.0

    @Option(name: .customLong("chat-streams"), help: "Streams (one subscriber each) of the chat pattern.")
    var chatStreams = 1000

    @Option(name: .customLong("chat-rate"), help: "Events per second in total over the chat pattern's streams.")
    var chatRate = 1000.0

    @Option(name: .customLong("search-seconds"), help: "Length of each step of the saturation search.")
    var searchSeconds = 3.0

    @Option(name: .customLong("search-start-rate"), help: "Events per second of the saturation search's first step (×1.5 per step).")
    var searchStartRate = 20.0

    @Option(name: .customLong("search-p99-ms"), help: "p99 under which a saturation-search step passes.")
    var searchP99 = 100.0

    @Option(name: .customLong("search-posters"), help: "Concurrent POST connections of the saturation search.")
    var searchPosters = 16

    @Option(name: .customLong("idle-cpu-seconds"), help: "How long the idle phase measures the server's CPU with the connections open.")
    var idleCPUSeconds = 30.0

    @Option(help: "Port for the server child; 0 picks a free loopback port.")
    var port = 0

    @Option(name: .customLong("server-log"), help: "File for the server child's output (default: a temporary file).")
    var serverLog: String?

    @Option(name: .customLong("time-limit"), help: "Seconds after which the whole run is aborted.")
    var timeLimit = 900

    func validate() throws {
        guard subscribers >= 1, idle >= 1, posters >= 1, floorMessages >= 1, events >= 1, baselineEvents >= 0 else {
            throw ValidationError("counts must be positive")
        }
        guard events < 100_000, baselineEvents < 100_000 else { throw ValidationError("at most 99,999 events per run") }
        guard !paces.isEmpty, paces.count <= 8, paces.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--interval-ms needs 1 to 8 positive numbers")
        }
        guard ["stream", "hold"].contains(idleRoute) else { throw ValidationError("--idle-route is stream or hold") }
        guard !loopModes.isEmpty, saturationModes.split(separator: ",").count == loopModes.count else {
            throw ValidationError("--saturation-modes takes open and/or closed")
        }
        guard saturationSeconds > 0, latencySeconds > 0 else { throw ValidationError("durations must be positive") }
        let known = Set(["floor", "memory", "latency", "saturation"]).union(Self.sideBySidePhases)
        for phase in selectedPhases where !known.contains(phase) { throw ValidationError("unknown phase \(phase)") }
        guard rate > 0, pacedSeconds > 0, chatStreams >= 1, searchPosters >= 1, chatRate > 0, searchSeconds > 0, searchStartRate > 0,
            searchP99 > 0,
            idleCPUSeconds > 0
        else { throw ValidationError("rates, durations and counts must be positive") }
        guard rate * pacedSeconds < 900_000, chatRate * pacedSeconds < 900_000 else {
            throw ValidationError("at most 899,999 events per latency run")
        }
    }

    static let sideBySidePhases: Set = ["idle", "single", "fanout", "chat", "search", "relay"]

    var selectedPhases: Set<String> {
        let list = phases ?? (nchanPort == nil ? "floor,memory,latency,saturation" : "floor,idle,single,fanout,chat,search,relay")
        return Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// Saturation runs: true for open loop.
    var loopModes: [Bool] {
        saturationModes.split(separator: ",").compactMap {
            switch $0.trimmingCharacters(in: .whitespaces) {
            case "open": true
            case "closed": false
            default: nil
            }
        }
    }

    var paces: [Double] {
        intervals.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() async throws {
        let fileLimit = raiseOpenFileLimit()
        if fileLimit < UInt64(max(idle, subscribers) + 200) {
            say("warning: open files limited to \(fileLimit); raise `ulimit -n` for \(max(idle, subscribers)) connections")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let port = self.port == 0 ? try freeLoopbackPort() : self.port
        let logPath = serverLog ?? NSTemporaryDirectory() + "gateway-stream-bench-server-\(getpid()).log"
        let phases = selectedPhases
        var results = Results()
        var sideBySide = SideBySideResults()
        results.environment = Self.describeEnvironment()
        say("gateway stream benchmark: \(results.environment)")
        if let nchanPort {
            let workers = nchanPID.map { childProcesses(of: $0) } ?? []
            say("Nchan on 127.0.0.1:\(nchanPort), " + (workers.isEmpty ? "no worker PIDs (RSS and CPU unknown)" : "worker PIDs \(workers)"))
        }

        let child = try ChildProcess(
            executable: currentExecutablePath(),
            arguments: [
                "server", "--port", String(port), "--redis-url", redisURL, "--key-prefix", "bench:\(UUID().uuidString.prefix(8)):",
                "--parent-pid", String(getpid()),
            ],
            outputPath: logPath)
        say("server child pid \(child.pid) on 127.0.0.1:\(port), log \(logPath)")
        let limit = timeLimit
        let watchdog = Thread {
            sleep(UInt32(limit))
            say("time limit of \(limit) s reached: stopping")
            child.send(SIGKILL)
            Glibc.exit(3)
        }
        watchdog.start()

        do {
            try await waitUntilReady(child: child, group: group, port: port)
            if phases.contains("floor") {
                say("==> Redis PUBLISH→subscriber floor (\(floorMessages) messages, one in flight)")
                let cpu = CPUMeter(serverPID: child.pid)
                results.floor = try await measureRedisFloor(url: redisURL, messages: floorMessages)
                say("    " + Self.describe(results.floor) + "; " + cpu.read().description)
            }
            if !phases.isDisjoint(with: Self.sideBySidePhases) {
                var targets = [BenchTarget(kind: .gateway, port: port, processes: [child.pid])]
                if let nchanPort {
                    targets.append(BenchTarget(kind: .nchan, port: nchanPort, processes: nchanPID.map { childProcesses(of: $0) } ?? []))
                }
                try await runSideBySide(targets: targets, phases: phases, group: group, results: &sideBySide)
            }
            if phases.contains("memory") {
                results.memory = try await measureIdleMemory(child: child, group: group, port: port, logPath: logPath)
            }
            if phases.contains("latency") || phases.contains("saturation") {
                try await measureFanout(child: child, group: group, port: port, phases: phases, results: &results)
            }
        } catch {
            say("benchmark failed: \(error)")
            say("last lines of the server log (\(logPath)):")
            say(Self.tail(of: logPath, lines: 30))
            _ = await child.stop()
            throw ExitCode.failure
        }
        let status = await child.stop()
        say("server child stopped (status \(status.map(String.init) ?? "unknown"))")
        if serverLog == nil { try? FileManager.default.removeItem(atPath: logPath) }
        say("")
        if sideBySide.isEmpty || !results.latency.isEmpty || !results.saturation.isEmpty || results.memory != nil {
            say(results.table(floorGoal: 3, memoryGoal: 16))
            say("")
        }
        if !sideBySide.isEmpty {
            say(sideBySide.table(environment: results.environment, floor: results.floor, run: self))
        }
    }

    // MARK: Server child

    func waitUntilReady(child: ChildProcess, group: any EventLoopGroup, port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let status = child.terminationStatus { throw BenchError("the server child exited with status \(status)") }
            if let response = try? await httpRequest(group: group, port: port, .GET, "/readyz"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("the server child did not become ready within 60 s")
    }

    /// The server's live malloc heap: the diagnostic route makes it print malloc_stats() to its
    /// log; the last "in use bytes" there is the total including mmapped blocks. Nil if unknown.
    func heapBytes(group: any EventLoopGroup, port: Int, logPath: String) async -> Int? {
        guard let response = try? await httpRequest(group: group, port: port, .GET, "/bench/heap"), response.status == 200 else {
            return nil
        }
        try? await Task.sleep(for: .milliseconds(200))
        guard let log = try? String(contentsOfFile: logPath, encoding: .utf8),
            let total = log.range(of: "Total (incl. mmap):", options: .backwards)
        else { return nil }
        for line in log[total.upperBound...].split(separator: "\n") where line.contains("in use bytes") {
            return Int(line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces) ?? "")
        }
        return nil
    }

    func metrics(group: any EventLoopGroup, port: Int) async throws -> String {
        let response = try await httpRequest(group: group, port: port, .GET, "/metrics")
        guard response.status == 200 else { throw BenchError("/metrics answered \(response.status)") }
        return response.body
    }

    /// Waits until the server's `gateway_event_streams_open` gauge reads `value`.
    func waitForOpenStreams(_ value: Int, group: any EventLoopGroup, port: Int, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = -1.0
        while ContinuousClock.now < deadline {
            last = metricValue(try await metrics(group: group, port: port), "gateway_event_streams_open")
            if last == Double(value) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("gateway_event_streams_open stayed at \(last), expected \(value)")
    }

    // MARK: Memory

    func measureIdleMemory(child: ChildProcess, group: any EventLoopGroup, port: Int, logPath: String) async throws -> MemoryResult {
        let streams = idleStreams == 0 ? idle : idleStreams
        let hold = idleRoute == "hold"
        say(
            "==> RSS per idle SSE connection (\(idle) connections "
                + (hold ? "to the diagnostic hold route: no stream session)" : "over \(streams) stream\(streams == 1 ? "" : "s"))"))
        let ledger = DeliveryLedger()
        // Warm the server up (first-use allocations, thread pools) so they are not counted.
        let warm = try await openSubscribers(count: 50, concurrency: 50, group: group, port: port, ledger: ledger) {
            "/bench/streams/bench-warm-\($0)"
        }
        await closeAll(warm)
        try await waitForOpenStreams(0, group: group, port: port)
        try await Task.sleep(for: .seconds(1))
        guard let before = residentKilobytes(pid: child.pid) else { throw BenchError("cannot read /proc/\(child.pid)/status") }
        let heapBefore = await heapBytes(group: group, port: port, logPath: logPath)
        let started = ContinuousClock.now
        let connections = try await openSubscribers(count: idle, concurrency: 200, group: group, port: port, ledger: ledger) {
            hold ? "/bench/hold" : "/bench/streams/bench-idle-\($0 % streams)"
        }
        let openTime = ContinuousClock.now - started
        try await waitForOpenStreams(idle, group: group, port: port)
        try await Task.sleep(for: .seconds(2))
        guard let after = residentKilobytes(pid: child.pid) else { throw BenchError("cannot read /proc/\(child.pid)/status") }
        let threads = threadCount(pid: child.pid) ?? 0
        let heapAfter = await heapBytes(group: group, port: port, logPath: logPath)
        let result = MemoryResult(
            connections: idle, streams: hold ? 0 : streams, beforeKB: before, afterKB: after, serverThreads: threads,
            heapBytesPerConnection: heapBefore.flatMap { before in heapAfter.map { Double($0 - before) / Double(idle) } })
        say(
            "    opened \(idle) in \(openTime); VmRSS \(before) KB → \(after) KB; "
                + String(format: "%.1f KB per connection", result.perConnectionKB)
                + (result.heapBytesPerConnection.map { String(format: " (live malloc heap %.1f KB)", $0 / 1024) } ?? "")
                + "; server threads \(threads)")
        await closeAll(connections)
        try await waitForOpenStreams(0, group: group, port: port)
        return result
    }

    // MARK: Append→delivery latency and saturation

    func measureFanout(child: ChildProcess, group: any EventLoopGroup, port: Int, phases: Set<String>, results: inout Results)
        async throws
    {
        let ledger = DeliveryLedger()
        if phases.contains("latency") && baselineEvents > 0 {
            // Baseline: one subscriber, so the gateway's own path (HTTP append, Lua, PUBLISH,
            // receiver, one SSE write) is measured without fan-out.
            say("==> append→delivery baseline: \(baselineEvents) appends, one every 2 ms, to 1 subscriber")
            let single = try await openSubscribers(count: 1, concurrency: 1, group: group, port: port, ledger: ledger) { _ in
                "/bench/streams/bench-single"
            }
            do {
                let warmUp = (0..<100).map { 50_000_000 + Int64($0) }
                _ = try await sendPaced(warmUp, interval: .milliseconds(2), stream: "bench-single", group: group, port: port)
                _ = await waitForDelivery(of: warmUp, to: 1, ledger: ledger, timeout: .seconds(10))
                results.latency.append(
                    try await latencyRun(
                        label: "1 subscriber, every 2 ms", run: 0, events: baselineEvents, interval: .milliseconds(2),
                        stream: "bench-single", subscribers: single, child: child, ledger: ledger, group: group, port: port))
            } catch {
                await closeAll(single)
                throw error
            }
            await closeAll(single)
            try await waitForOpenStreams(0, group: group, port: port)
        }

        let stream = "bench-fanout"
        say("==> opening \(subscribers) SSE subscribers to one stream (\(stream))")
        let subscribers = try await openSubscribers(
            count: self.subscribers, concurrency: 200, group: group, port: port, ledger: ledger
        ) { _ in "/bench/streams/\(stream)" }
        do {
            try await waitForOpenStreams(self.subscribers, group: group, port: port)
            // Warm-up at a gentle pace, not sampled.
            let warmUp = (0..<20).map { 60_000_000 + Int64($0) }
            _ = try await sendPaced(warmUp, interval: .milliseconds(50), stream: stream, group: group, port: port)
            _ = await waitForDelivery(of: warmUp, to: self.subscribers, ledger: ledger, timeout: .seconds(30))

            if phases.contains("latency") {
                for (index, pace) in paces.enumerated() {
                    let interval = Duration.nanoseconds(Int64(pace * 1_000_000))
                    let count = max(1, min(events, Int(latencySeconds * 1000 / pace)))
                    say("==> append→delivery: \(count) appends, one every \(Self.format(pace)) ms, to \(self.subscribers) subscribers")
                    results.latency.append(
                        try await latencyRun(
                            label: "\(self.subscribers) subscribers, every \(Self.format(pace)) ms", run: index + 1, events: count,
                            interval: interval, stream: stream, subscribers: subscribers, child: child, ledger: ledger, group: group,
                            port: port))
                    for subscriber in subscribers { subscriber.record.dropSamples() }
                    try await Task.sleep(for: .seconds(1))
                }
            }

            for openLoop in phases.contains("saturation") ? loopModes : [] {
                say(
                    "==> saturation: \(posters) POSTers for \(saturationSeconds) s, "
                        + (openLoop ? "open loop (back to back)" : "closed loop (each waits for its event to reach every subscriber)"))
                let before = try await metrics(group: group, port: port)
                let cpu = CPUMeter(serverPID: child.pid)
                let totalBefore = ledger.total
                var result = try await saturate(openLoop: openLoop, stream: stream, ledger: ledger, group: group, port: port)
                result.cpu = cpu.read()
                // Let the backlog drain (bounded) before counting disconnects and going on.
                let drainStarted = ContinuousClock.now
                let expected = result.appends * subscribers.filter { !$0.record.isClosed }.count
                while ledger.total - totalBefore < expected && ContinuousClock.now - drainStarted < .seconds(60) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                result.drainSeconds = Double((ContinuousClock.now - drainStarted).nanos) / 1e9
                try await Task.sleep(for: .seconds(1))
                let after = try await metrics(group: group, port: port)
                let slowClientLabel = #"reason="slow_client""#
                result.slowClientDisconnects = Int(
                    metricValue(after, "gateway_event_streams_ended_total", labels: slowClientLabel)
                        - metricValue(before, "gateway_event_streams_ended_total", labels: slowClientLabel))
                result.disconnected = subscribers.filter { $0.record.isClosed }.count
                result.subscribers = self.subscribers
                results.saturation.append(result)
                say(
                    String(
                        format:
                            "    deliveries/s %.0f, appends/s %.1f (%d appends in %.2f s; backlog drained %.1f s later), incomplete %d, slow-client cuts %d, disconnected %d; ",
                        result.deliveriesPerSecond, result.appendsPerSecond, result.appends, result.seconds, result.drainSeconds,
                        result.incomplete, result.slowClientDisconnects, result.disconnected) + result.cpu.description)
                if result.disconnected > 0 {
                    say("    \(result.disconnected) subscribers were disconnected: skipping further saturation runs")
                    break
                }
            }
        } catch {
            await closeAll(subscribers)
            throw error
        }
        await closeAll(subscribers)
        try? await waitForOpenStreams(0, group: group, port: port, timeout: .seconds(20))
    }

    /// One paced latency run: events numbered `run`×100,000 + 1…`events`.
    func latencyRun(
        label: String, run: Int, events: Int, interval: Duration, stream: String, subscribers: [SSESubscriber], child: ChildProcess,
        ledger: DeliveryLedger, group: any EventLoopGroup, port: Int
    ) async throws -> LatencyResult {
        let first = Int64(run) * 100_000 + 1
        let numbers = (0..<Int64(events)).map { first + $0 }
        let cpu = CPUMeter(serverPID: child.pid)
        let sending = try await sendPaced(numbers, interval: interval, stream: stream, group: group, port: port)
        let complete = await waitForDelivery(of: numbers, to: subscribers.count, ledger: ledger, timeout: .seconds(30))
        let usage = cpu.read()
        let range = first...(first + Int64(events) - 1)
        let samples = subscribers.flatMap { $0.record.latencies(in: range) }
        guard let summary = LatencySummary(nanoseconds: samples) else { throw BenchError("no deliveries were received") }
        let result = LatencyResult(
            label: label, summary: summary, expected: events * subscribers.count, completeEvents: complete, events: events,
            achievedRate: sending.rate, postP99: sending.postP99, disconnected: subscribers.filter { $0.record.isClosed }.count,
            cpu: usage)
        say(
            "    " + Self.describe(summary) + "; \(samples.count)/\(result.expected) deliveries; "
                + String(
                    format: "appends/s achieved %.0f (planned %.0f); POST p99 %@; ", sending.rate, 1e9 / Double(interval.nanos),
                    milliseconds(sending.postP99))
                + "disconnected \(result.disconnected); " + usage.description)
        return result
    }

    /// Appends `numbers` at a fixed pace to a bench stream of the gateway (see `publishPaced`).
    func sendPaced(_ numbers: [Int64], interval: Duration, stream: String, group: any EventLoopGroup, port: Int) async throws
        -> (rate: Double, postP99: Double)
    {
        let gateway = BenchTarget(kind: .gateway, port: port, processes: [])
        return try await publishPaced(
            numbers, interval: interval, posters: posters, publisher: gateway.publisher { _ in stream }, group: group)
    }

    /// Waits until every event in `numbers` reached `target` subscribers; returns how many did.
    func waitForDelivery(of numbers: [Int64], to target: Int, ledger: DeliveryLedger, timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if ledger.completed(numbers, target: target) == numbers.count { return numbers.count }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return ledger.completed(numbers, target: target)
    }

    /// Appends as fast as `posters` connections allow for `saturationSeconds`. Closed loop (the
    /// default): each POSTer waits until its previous event reached every subscriber, so the
    /// server always has `posters` events in fan-out and nobody falls behind. Open loop: back
    /// to back.
    func saturate(openLoop: Bool, stream: String, ledger: DeliveryLedger, group: any EventLoopGroup, port: Int) async throws
        -> SaturationResult
    {
        let posters = self.posters
        let target = subscribers
        let path = "/bench/streams/\(stream)"
        let totalBefore = ledger.total
        let started = ContinuousClock.now
        let end = started + .nanoseconds(Int64(saturationSeconds * 1e9))
        let counts = try await withThrowingTaskGroup(of: (appends: Int, incomplete: Int).self) { tasks in
            for poster in 0..<posters {
                tasks.addTask {
                    try await withHTTPConnection(group: group, port: port) { session in
                        var appends = 0
                        var incomplete = 0
                        while ContinuousClock.now < end {
                            let number = Int64(poster + 1) * 100_000_000 + (openLoop ? 50_000_000 : 0) + Int64(appends)
                            let body = ByteBuffer(string: #"{"n":\#(number),"t":\#(monotonicNanos())}"#)
                            let response = try await session.request(.POST, path, body: body)
                            guard response.status == 200 else { throw BenchError("append answered HTTP \(response.status)") }
                            appends += 1
                            if !openLoop {
                                let deadline = ContinuousClock.now + .seconds(5)
                                while ledger.deliveries(of: number) < target {
                                    if ContinuousClock.now >= deadline {
                                        incomplete += 1
                                        break
                                    }
                                    try await Task.sleep(for: .milliseconds(1))
                                }
                                ledger.forget(number)
                            }
                        }
                        return (appends, incomplete)
                    }
                }
            }
            var total = (appends: 0, incomplete: 0)
            for try await count in tasks {
                total.appends += count.appends
                total.incomplete += count.incomplete
            }
            return total
        }
        let elapsed = ContinuousClock.now - started
        let delivered = ledger.total - totalBefore
        return SaturationResult(
            appends: counts.appends, deliveries: delivered, seconds: Double(elapsed.nanos) / 1e9, incomplete: counts.incomplete,
            openLoop: openLoop, posters: posters)
    }

    // MARK: Reporting

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func describe(_ summary: LatencySummary?) -> String {
        guard let summary else { return "n/a" }
        return
            "p50 \(milliseconds(summary.p50))  p99 \(milliseconds(summary.p99))  p999 \(milliseconds(summary.p999))  max \(milliseconds(summary.max))"
    }

    static func tail(of path: String, lines: Int) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    static func describeEnvironment() -> String {
        #if DEBUG
        let mode = "debug build"
        #else
        let mode = "release build"
        #endif
        let cpu =
            readProcFile("/proc/cpuinfo")?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let date = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withFullDate])
        return "\(date), \(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(mode)"
    }
}

extension Duration {
    var nanos: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

struct MemoryResult {
    let connections: Int
    let streams: Int
    let beforeKB: Int
    let afterKB: Int
    let serverThreads: Int
    let heapBytesPerConnection: Double?
    var perConnectionKB: Double { Double(afterKB - beforeKB) / Double(connections) }
}

struct LatencyResult {
    let label: String
    let summary: LatencySummary
    let expected: Int
    let completeEvents: Int
    let events: Int
    let achievedRate: Double
    let postP99: Double
    let disconnected: Int
    let cpu: CPUUsage
}

struct SaturationResult {
    let appends: Int
    let deliveries: Int
    let seconds: Double
    let incomplete: Int
    let openLoop: Bool
    let posters: Int
    var subscribers = 0
    var slowClientDisconnects = 0
    var disconnected = 0
    var cpu = CPUUsage()
    var drainSeconds = 0.0
    var deliveriesPerSecond: Double { Double(deliveries) / seconds }
    var appendsPerSecond: Double { Double(appends) / seconds }
}

struct Results {
    var environment = ""
    var floor: LatencySummary?
    var latency: [LatencyResult] = []
    var saturation: [SaturationResult] = []
    var memory: MemoryResult?

    func table(floorGoal: Double, memoryGoal: Double) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
        func figures(_ summary: LatencySummary) -> String {
            pad("p50 \(milliseconds(summary.p50))", 14) + pad("p99 \(milliseconds(summary.p99))", 15)
                + pad("p999 \(milliseconds(summary.p999))", 16)
        }
        let label = 50
        var lines = ["results (\(environment))"]
        if let floor {
            lines.append(pad("redis publish→subscribe floor", label) + figures(floor))
        }
        for latency in latency {
            var line = pad("append→delivery (\(latency.label))", label) + figures(latency.summary)
            if let floor, floor.p99 > 0 {
                let ratio = latency.summary.p99 / floor.p99
                line += String(format: "(p99 = %.1f× floor; goal ≤ %.0f× %@)", ratio, floorGoal, ratio <= floorGoal ? "met" : "NOT met")
            }
            lines.append(line)
            lines.append(
                pad("", label)
                    + String(
                        format: "%d/%d deliveries, %d disconnected; appends at %.0f/s; ", latency.summary.count, latency.expected,
                        latency.disconnected, latency.achievedRate) + latency.cpu.description)
        }
        for saturation in saturation {
            lines.append(
                pad("deliveries/s at saturation (\(saturation.openLoop ? "open" : "closed") loop)", label)
                    + String(
                        format: "%.0f  (appends/s %.1f; %d subscribers, %d POSTers; backlog drained %.1f s after)",
                        saturation.deliveriesPerSecond, saturation.appendsPerSecond, saturation.subscribers, saturation.posters,
                        saturation.drainSeconds))
            lines.append(
                pad("", label)
                    + String(
                        format: "slow-client cuts %d, incomplete events %d, disconnected %d; ", saturation.slowClientDisconnects,
                        saturation.incomplete, saturation.disconnected) + saturation.cpu.description)
        }
        if let memory {
            lines.append(
                pad("RSS per idle SSE connection", label)
                    + String(
                        format: "%.1f KB at %d connections %@ (goal ≤ %.0f KB %@)", memory.perConnectionKB,
                        memory.connections,
                        memory.streams == 0
                            ? "to the hold route (diagnostic)" : "over \(memory.streams) stream\(memory.streams == 1 ? "" : "s")",
                        memoryGoal,
                        memory.perConnectionKB <= memoryGoal ? "met" : "NOT met"))
            lines.append(
                pad("", label) + "server VmRSS \(memory.beforeKB) KB → \(memory.afterKB) KB, \(memory.serverThreads) threads"
                    + (memory.heapBytesPerConnection.map { String(format: "; live malloc heap %.1f KB per connection", $0 / 1024) } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}
