import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// One latency run of the side-by-side phases.
struct PacedResult: Sendable {
    let summary: LatencySummary?
    let check: DeliveryCheck
    let events: Int
    let achievedRate: Double
    let postP99: Double
    let cpu: CPUUsage
}

/// The highest sustained delivery rate found, and the step that found it.
struct SearchResult: Sendable {
    var deliveriesPerSecond = 0.0
    var appendsPerSecond = 0.0
    var p99 = 0.0
    var steps = 0
    var check = DeliveryCheck()
}

struct IdleResult: Sendable {
    let connections: Int
    let beforeKB: Int
    let afterKB: Int
    let idleCores: Double
    var perConnectionKB: Double { Double(afterKB - beforeKB) / Double(connections) }
}

/// Every figure of the side-by-side phases, per target.
struct SideBySideResults: Sendable {
    var single: [BenchTarget.Kind: PacedResult] = [:]
    var fanout: [BenchTarget.Kind: PacedResult] = [:]
    var chat: [BenchTarget.Kind: PacedResult] = [:]
    var search: [BenchTarget.Kind: SearchResult] = [:]
    var idle: [BenchTarget.Kind: IdleResult] = [:]
    var relay: PacedResult?

    var isEmpty: Bool { single.isEmpty && fanout.isEmpty && chat.isEmpty && search.isEmpty && idle.isEmpty && relay == nil }
}

extension RunCommand {
    // MARK: Latency at a fixed pace

    /// Publishes `count` events at `rate` per second (event i to `streamOf(i)`), waits until
    /// each reached its `fanout` subscribers, and measures latency and correctness. Numbers
    /// are 100,001 and up (latency samples); the ledger and the subscribers' records are
    /// cleared first, so runs may reuse them.
    func pacedRun(
        target: BenchTarget, count: Int, rate: Double, fanout: Int, subscribers: [SSESubscriber], publisher: Publisher,
        expected: (Int) -> [Int64], ledger: DeliveryLedger, group: any EventLoopGroup, drainTimeout: Duration = .seconds(30)
    ) async throws -> PacedResult {
        ledger.resetEvents()
        for subscriber in subscribers { subscriber.record.dropSamples() }
        let numbers = (0..<Int64(count)).map { 100_001 + $0 }
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        let cpu = CPUMeter(serverPIDs: target.processes)
        let sending = try await publishPaced(numbers, interval: interval, posters: posters, publisher: publisher, group: group)
        _ = await waitForDelivery(of: numbers, to: fanout, ledger: ledger, timeout: drainTimeout)
        let usage = cpu.read()
        // Late duplicates would arrive right after; give them a moment.
        try await Task.sleep(for: .milliseconds(200))
        let range = numbers.first!...numbers.last!
        let samples = subscribers.flatMap { $0.record.latencies(in: range) }
        let check = DeliveryCheck.check(subscribers: subscribers, numbers: numbers, posters: posters, expected: expected)
        return PacedResult(
            summary: LatencySummary(nanoseconds: samples), check: check, events: count, achievedRate: sending.rate,
            postP99: sending.postP99, cpu: usage)
    }

    /// Warm-up: `count` events at 20 per second (or `rate`), not sampled, until delivered.
    func warmUp(
        count: Int, rate: Double = 20, fanout: Int, publisher: Publisher, ledger: DeliveryLedger, group: any EventLoopGroup
    ) async throws {
        let numbers = (0..<Int64(count)).map { 60_000_000 + $0 }
        _ = try await publishPaced(
            numbers, interval: .nanoseconds(Int64(1e9 / rate)), posters: posters, publisher: publisher, group: group)
        _ = await waitForDelivery(of: numbers, to: fanout, ledger: ledger, timeout: .seconds(30))
    }

    func report(_ target: BenchTarget, _ result: PacedResult) {
        say(
            "    \(target.name): " + Self.describe(result.summary) + "; check " + result.check.description
                + String(format: "; events/s achieved %.0f; POST p99 %@; ", result.achievedRate, milliseconds(result.postP99))
                + result.cpu.description)
    }

    /// Opens `count` subscribers on the streams `stream(i)` of a target, runs `body`, closes them.
    func withSubscribers<Result>(
        _ target: BenchTarget, count: Int, ledger: DeliveryLedger, group: any EventLoopGroup,
        stream: @escaping @Sendable (Int) -> String, _ body: ([SSESubscriber]) async throws -> Result
    ) async throws -> Result {
        let subscribers = try await openSubscribers(
            count: count, concurrency: 200, group: group, port: target.port, ledger: ledger, format: target.format
        ) { target.subscribePath(stream($0)) }
        do {
            let result = try await body(subscribers)
            await closeAll(subscribers)
            return result
        } catch {
            await closeAll(subscribers)
            throw error
        }
    }

    var pacedCount: Int { max(1, Int((rate * pacedSeconds).rounded())) }

    /// 1 subscriber, `rate` events per second.
    func measureSingle(_ target: BenchTarget, group: any EventLoopGroup) async throws -> PacedResult {
        let ledger = DeliveryLedger()
        let stream = "bench-single-\(target.kind.rawValue)"
        let publisher = target.publisher { _ in stream }
        return try await withSubscribers(target, count: 1, ledger: ledger, group: group, stream: { _ in stream }) { subscribers in
            try await warmUp(count: 20, fanout: 1, publisher: publisher, ledger: ledger, group: group)
            let numbers = (0..<Int64(pacedCount)).map { 100_001 + $0 }
            return try await pacedRun(
                target: target, count: pacedCount, rate: rate, fanout: 1, subscribers: subscribers, publisher: publisher,
                expected: { _ in numbers }, ledger: ledger, group: group)
        }
    }

    /// `subscribers` subscribers on one stream, `rate` events per second.
    func measureFanout(_ target: BenchTarget, group: any EventLoopGroup) async throws -> PacedResult {
        let ledger = DeliveryLedger()
        let stream = "bench-fanout-\(target.kind.rawValue)"
        let publisher = target.publisher { _ in stream }
        let count = subscribers
        return try await withSubscribers(target, count: count, ledger: ledger, group: group, stream: { _ in stream }) { subscribers in
            try await warmUp(count: 20, fanout: count, publisher: publisher, ledger: ledger, group: group)
            let numbers = (0..<Int64(pacedCount)).map { 100_001 + $0 }
            return try await pacedRun(
                target: target, count: pacedCount, rate: rate, fanout: count, subscribers: subscribers, publisher: publisher,
                expected: { _ in numbers }, ledger: ledger, group: group)
        }
    }

    /// The chat pattern: `chatStreams` streams with one subscriber each; `chatRate` events per
    /// second in total, event i to stream i modulo `chatStreams`.
    func measureChat(_ target: BenchTarget, group: any EventLoopGroup) async throws -> PacedResult {
        let ledger = DeliveryLedger()
        let streams = chatStreams
        let prefix = "bench-chat-\(target.kind.rawValue)-"
        let stream: @Sendable (Int) -> String = { "\(prefix)\($0 % streams)" }
        let publisher = target.publisher(stream: stream)
        return try await withSubscribers(target, count: streams, ledger: ledger, group: group, stream: stream) { subscribers in
            // One event per stream, so that every subscription has carried an event.
            try await warmUp(count: streams, rate: chatRate, fanout: 1, publisher: publisher, ledger: ledger, group: group)
            let count = max(streams, Int((chatRate * pacedSeconds).rounded()))
            let numbers = (0..<Int64(count)).map { 100_001 + $0 }
            return try await pacedRun(
                target: target, count: count, rate: chatRate, fanout: 1, subscribers: subscribers, publisher: publisher,
                expected: { subscriber in stride(from: subscriber, to: count, by: streams).map { numbers[$0] } }, ledger: ledger,
                group: group)
        }
    }

    // MARK: Saturation: the highest delivery rate with p99 under the limit

    /// `subscribers` subscribers on one stream; paced runs of `searchSeconds` at rising event
    /// rates (×1.5 from `searchStartRate`) until one fails, then two bisection steps. A step
    /// counts when every event reached every subscriber and the p99 is under `searchP99`
    /// milliseconds; the figure is the achieved deliveries per second of the best step that
    /// counts. The search goes higher only from a step that counts and whose publishers kept
    /// up (at least 90 % of the planned rate): when the server slows the POSTs down, the rate
    /// it accepted is its limit.
    func measureSearch(_ target: BenchTarget, group: any EventLoopGroup) async throws -> SearchResult {
        let ledger = DeliveryLedger()
        let stream = "bench-search-\(target.kind.rawValue)"
        let publisher = target.publisher { _ in stream }
        let count = subscribers
        var search = self
        search.posters = searchPosters
        return try await withSubscribers(target, count: count, ledger: ledger, group: group, stream: { _ in stream }) { subscribers in
            try await warmUp(count: 20, fanout: count, publisher: publisher, ledger: ledger, group: group)
            var best = SearchResult()
            var checks = DeliveryCheck()
            var steps = 0
            func step(_ rate: Double) async throws -> Bool {
                steps += 1
                let events = max(20, Int((rate * searchSeconds).rounded()))
                let numbers = (0..<Int64(events)).map { 100_001 + $0 }
                let result = try await search.pacedRun(
                    target: target, count: events, rate: rate, fanout: count, subscribers: subscribers, publisher: publisher,
                    expected: { _ in numbers }, ledger: ledger, group: group, drainTimeout: .seconds(15))
                checks = checks + result.check
                let p99 = result.summary?.p99 ?? .infinity
                let complete = result.check.lost == 0
                let keptUp = result.achievedRate >= 0.9 * rate
                let counts = complete && p99 < searchP99
                let passed = counts && keptUp
                let deliveries = result.achievedRate * Double(count)
                say(
                    String(
                        format: "    %@ step %d: %.0f events/s planned, %.0f achieved → %.0f deliveries/s; p99 %@; %@; %@",
                        target.name, steps, rate, result.achievedRate, deliveries, milliseconds(p99),
                        passed
                            ? "passed"
                            : (counts ? "counts, but " : "failed: ")
                                + [
                                    complete ? nil : "incomplete", keptUp ? nil : "publishers fell behind",
                                    p99 < searchP99 ? nil : "p99 over the limit",
                                ].compactMap { $0 }.joined(separator: ", "),
                        result.cpu.description))
                if counts && deliveries > best.deliveriesPerSecond {
                    best.deliveriesPerSecond = deliveries
                    best.appendsPerSecond = result.achievedRate
                    best.p99 = p99
                }
                // Let queues empty before the next step.
                try await Task.sleep(for: .milliseconds(500))
                return passed
            }
            var low = 0.0
            var high = 0.0
            var rate = searchStartRate
            while steps < 16 {
                if try await step(rate) {
                    low = rate
                    rate *= 1.5
                } else {
                    high = rate
                    break
                }
            }
            if high > 0 && low > 0 {
                for _ in 0..<2 {
                    let middle = (low + high) / 2
                    if try await step(middle) { low = middle } else { high = middle }
                }
            }
            best.steps = steps
            best.check = checks
            return best
        }
    }

    // MARK: Idle connections

    /// RSS per idle connection (one stream each) and the server's CPU while they are idle.
    func measureIdle(_ target: BenchTarget, group: any EventLoopGroup) async throws -> IdleResult {
        let ledger = DeliveryLedger()
        let isGateway = target.kind == .gateway
        // Warm the server up (first-use allocations) so they are not counted.
        try await withSubscribers(target, count: 50, ledger: ledger, group: group, stream: { "bench-warm-\($0)" }) { _ in }
        if isGateway { try await waitForOpenStreams(0, group: group, port: target.port) }
        try await Task.sleep(for: .seconds(1))
        guard let before = target.residentKB else { throw BenchError("cannot read the RSS of \(target.name) (\(target.processes))") }
        let started = ContinuousClock.now
        let count = idle
        return try await withSubscribers(
            target, count: count, ledger: ledger, group: group, stream: { "bench-idle-\(target.kind.rawValue)-\($0)" }
        ) { connections in
            let openTime = ContinuousClock.now - started
            if isGateway { try await waitForOpenStreams(count, group: group, port: target.port) }
            try await Task.sleep(for: .seconds(2))
            guard let after = target.residentKB else { throw BenchError("cannot read the RSS of \(target.name)") }
            let cpu = CPUMeter(serverPIDs: target.processes)
            try await Task.sleep(for: .nanoseconds(Int64(idleCPUSeconds * 1e9)))
            let usage = cpu.read()
            let closed = connections.filter { $0.record.isClosed }.count
            guard closed == 0 else { throw BenchError("\(closed) idle connections to \(target.name) were closed") }
            let result = IdleResult(connections: count, beforeKB: before, afterKB: after, idleCores: usage.server)
            say(
                "    \(target.name): opened \(count) in \(openTime); RSS \(before) KB → \(after) KB, "
                    + String(format: "%.1f KB per connection; idle for %.0f s: ", result.perConnectionKB, idleCPUSeconds)
                    + usage.description)
            return result
        }
    }

    // MARK: Side-by-side phases

    func runSideBySide(
        targets: [BenchTarget], phases: Set<String>, group: any EventLoopGroup, results: inout SideBySideResults
    ) async throws {
        let names = targets.map(\.name).joined(separator: " and ")
        if phases.contains("idle") {
            say("==> idle: \(idle) SSE connections, one stream each, on \(names): RSS per connection, then CPU for \(idleCPUSeconds) s")
            for target in targets { results.idle[target.kind] = try await measureIdle(target, group: group) }
        }
        if phases.contains("single") {
            say("==> 1 subscriber, \(Self.format(rate)) events/s for \(Self.format(pacedSeconds)) s, on \(names)")
            for target in targets {
                let result = try await measureSingle(target, group: group)
                report(target, result)
                results.single[target.kind] = result
            }
        }
        if phases.contains("fanout") {
            say(
                "==> \(subscribers) subscribers on one stream, \(Self.format(rate)) events/s for \(Self.format(pacedSeconds)) s, on \(names)"
            )
            for target in targets {
                let result = try await measureFanout(target, group: group)
                report(target, result)
                results.fanout[target.kind] = result
            }
        }
        if phases.contains("chat") {
            say(
                "==> chat pattern: \(chatStreams) streams × 1 subscriber, \(Self.format(chatRate)) events/s in total for "
                    + "\(Self.format(pacedSeconds)) s, on \(names)")
            for target in targets {
                let result = try await measureChat(target, group: group)
                report(target, result)
                results.chat[target.kind] = result
            }
        }
        if phases.contains("search") {
            say(
                "==> saturation: highest deliveries/s with p99 < \(Self.format(searchP99)) ms, \(subscribers) subscribers on one "
                    + "stream, steps of \(Self.format(searchSeconds)) s, on \(names)")
            for target in targets {
                let result = try await measureSearch(target, group: group)
                say(
                    String(
                        format: "    %@: %.0f deliveries/s (%.1f events/s, p99 %@) after %d steps; check %@", target.name,
                        result.deliveriesPerSecond, result.appendsPerSecond, milliseconds(result.p99), result.steps,
                        result.check.description))
                results.search[target.kind] = result
            }
        }
        if phases.contains("relay"), let gateway = targets.first(where: { $0.kind == .gateway }) {
            say("==> relay path on the gateway: device reply delta → guest's session stream, \(Self.format(rate)) deltas/s")
            let result = try await measureRelay(gateway, group: group)
            report(gateway, result)
            results.relay = result
        }
    }
}

extension SideBySideResults {
    /// One table: each figure for the gateway and Nchan, and their ratio.
    func table(environment: String, floor: LatencySummary?, run: RunCommand) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
        func number(_ value: Double) -> String {
            value >= 100 ? String(format: "%.0f", value) : value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value)
        }
        func latency(_ result: PacedResult?) -> String {
            guard let summary = result?.summary else { return "—" }
            return "\(number(summary.p50)) / \(number(summary.p99)) ms"
        }
        func ratio(_ gateway: Double?, _ nchan: Double?) -> String {
            guard let gateway, let nchan, nchan > 0 else { return "—" }
            return String(format: "%.2f", gateway / nchan)
        }
        func latencyRatio(_ gateway: PacedResult?, _ nchan: PacedResult?) -> String {
            guard let gateway = gateway?.summary, let nchan = nchan?.summary else { return "—" }
            return ratio(gateway.p50, nchan.p50) + " / " + ratio(gateway.p99, nchan.p99)
        }
        var lines = [
            "side by side (\(environment))",
            pad("phase", 44) + pad("figure", 18) + pad("gateway", 25) + pad("Nchan", 25) + "gateway/Nchan",
        ]
        func row(_ phase: String, _ figure: String, _ gateway: String, _ nchan: String, _ ratio: String) {
            lines.append(pad(phase, 44) + pad(figure, 18) + pad(gateway, 25) + pad(nchan, 25) + ratio)
        }
        func latencyRows(_ phase: String, _ results: [BenchTarget.Kind: PacedResult]) {
            guard !results.isEmpty else { return }
            let (gateway, nchan) = (results[.gateway], results[.nchan])
            row(phase, "p50 / p99", latency(gateway), latency(nchan), latencyRatio(gateway, nchan))
            row("", "check", gateway?.check.description ?? "—", nchan?.check.description ?? "—", "")
        }
        if let floor {
            row("Redis PUBLISH→subscriber floor", "p50 / p99", "\(number(floor.p50)) / \(number(floor.p99)) ms", "(same Redis)", "")
        }
        let rate = RunCommand.format(run.rate)
        latencyRows("1 subscriber, \(rate) events/s", single)
        latencyRows("\(run.subscribers) subscribers on 1 stream, \(rate) ev/s", fanout)
        latencyRows("chat: \(run.chatStreams) streams × 1 sub, \(RunCommand.format(run.chatRate)) ev/s", chat)
        if !search.isEmpty {
            let (gateway, nchan) = (search[.gateway], search[.nchan])
            row(
                "saturation, p99 < \(RunCommand.format(run.searchP99)) ms, \(run.subscribers) subs", "deliveries/s",
                gateway.map { number($0.deliveriesPerSecond) } ?? "—", nchan.map { number($0.deliveriesPerSecond) } ?? "—",
                ratio(gateway?.deliveriesPerSecond, nchan?.deliveriesPerSecond))
            row("", "check", gateway?.check.description ?? "—", nchan?.check.description ?? "—", "")
        }
        if !idle.isEmpty {
            let (gateway, nchan) = (idle[.gateway], idle[.nchan])
            row(
                "\(run.idle) idle connections", "KB per connection", gateway.map { number($0.perConnectionKB) } ?? "—",
                nchan.map { number($0.perConnectionKB) } ?? "—", ratio(gateway?.perConnectionKB, nchan?.perConnectionKB))
            row(
                "", "idle CPU (cores)", gateway.map { String(format: "%.3f", $0.idleCores) } ?? "—",
                nchan.map { String(format: "%.3f", $0.idleCores) } ?? "—", ratio(gateway?.idleCores, nchan?.idleCores))
        }
        if let relay {
            row("relay: device delta → guest, \(rate)/s", "p50 / p99", latency(relay), "(gateway only)", "")
            row("", "check", relay.check.description, "", "")
        }
        return lines.joined(separator: "\n")
    }
}
