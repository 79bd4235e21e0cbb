import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A server that the side-by-side phases drive with the same subscribers and publishers: the
/// gateway's bench routes, or Nchan (nginx) on the same redis-server.
struct BenchTarget: Sendable {
    enum Kind: String, Sendable {
        case gateway
        case nchan
    }

    let kind: Kind
    let port: Int
    /// The processes whose CPU and memory count as the server's: the gateway child, or Nchan's
    /// worker processes (not the master, which only supervises them).
    let processes: [pid_t]

    var name: String { kind == .gateway ? "gateway" : "Nchan" }
    var format: SSEFormat { kind == .gateway ? .gatewayBench : .nchan }

    /// GET this for an SSE subscription to `stream`.
    func subscribePath(_ stream: String) -> String { kind == .gateway ? "/bench/streams/\(stream)" : "/sub/\(stream)" }

    /// POST the event data here to publish it to `stream`.
    func publisher(stream: @escaping @Sendable (Int) -> String) -> Publisher {
        let kind = kind
        return Publisher(port: port) { index, number, sent in
            let path = kind == .gateway ? "/bench/streams/\(stream(index))" : "/pub/\(stream(index))"
            return (path, ByteBuffer(string: #"{"n":\#(number),"t":\#(sent)}"#))
        }
    }

    /// Resident memory of the server's processes, in KiB (summed over Nchan's workers).
    var residentKB: Int? {
        let values = processes.compactMap { residentKilobytes(pid: $0) }
        return values.isEmpty || values.count < processes.count ? nil : values.reduce(0, +)
    }
}

/// How events are published: the request for the event at `index` (numbered `number`, sent
/// at `sent` on the driver's monotonic clock) on keep-alive POST connections to `port`.
struct Publisher: Sendable {
    let port: Int
    var headers: [(String, String)] = []
    var contentType = "application/json"
    let request: @Sendable (_ index: Int, _ number: Int64, _ sent: Int64) -> (path: String, body: ByteBuffer)

    init(
        port: Int, headers: [(String, String)] = [], contentType: String = "application/json",
        request: @escaping @Sendable (_ index: Int, _ number: Int64, _ sent: Int64) -> (path: String, body: ByteBuffer)
    ) {
        self.port = port
        self.headers = headers
        self.contentType = contentType
        self.request = request
    }
}

/// Publishes `numbers` at a fixed pace, round-robin over `posters` keep-alive connections:
/// poster p sends the events at indices p, p + posters, … one at a time. Each event's data
/// carries the driver's monotonic time taken just before its POST is written. A poster whose
/// previous request has not returned yet sends late (the server is the bottleneck). Any 2xx
/// answer is success (the gateway answers 200, Nchan 201 or 202, a reply 202).
func publishPaced(
    _ numbers: [Int64], interval: Duration, posters: Int, publisher: Publisher, group: any EventLoopGroup
) async throws -> (rate: Double, postP99: Double) {
    let start = ContinuousClock.now + .milliseconds(20)
    let timings = try await withThrowingTaskGroup(of: [(sent: Int64, took: Int64)].self) { tasks in
        for poster in 0..<min(posters, numbers.count) {
            tasks.addTask {
                try await withHTTPConnection(group: group, port: publisher.port) { session in
                    var timings: [(sent: Int64, took: Int64)] = []
                    var index = poster
                    while index < numbers.count {
                        try await Task.sleep(until: start + interval * index, clock: .continuous)
                        let sent = monotonicNanos()
                        let (path, body) = publisher.request(index, numbers[index], sent)
                        let response = try await session.request(
                            .POST, path, body: body, contentType: publisher.contentType, headers: publisher.headers)
                        guard (200..<300).contains(response.status) else {
                            throw BenchError("POST \(path) answered HTTP \(response.status): \(String(buffer: response.body).prefix(300))")
                        }
                        timings.append((sent, monotonicNanos() - sent))
                        index += posters
                    }
                    return timings
                }
            }
        }
        var all: [(sent: Int64, took: Int64)] = []
        for try await timings in tasks { all += timings }
        return all
    }
    let sentTimes = timings.map(\.sent)
    let span = Double((sentTimes.max() ?? 0) - (sentTimes.min() ?? 0)) / 1e9
    let rate = span > 0 ? Double(numbers.count - 1) / span : 0
    return (rate, LatencySummary(nanoseconds: timings.map(\.took))?.p99 ?? 0)
}

/// Whether every subscriber got what it should: each expected event once, and the events of
/// each poster in the order that poster sent them (a poster sends one at a time, so the
/// server has no reason to swap them; events of different posters may interleave either way).
struct DeliveryCheck: Sendable {
    var deliveries = 0
    var lost = 0
    var duplicated = 0
    var reordered = 0
    /// Events a subscriber received that were published to another stream.
    var unexpected = 0

    var passed: Bool { lost == 0 && duplicated == 0 && reordered == 0 && unexpected == 0 }

    var description: String {
        passed
            ? "ok (\(deliveries) deliveries)"
            : "\(lost) lost, \(duplicated) dup, \(reordered) reord" + (unexpected > 0 ? ", \(unexpected) foreign" : "")
    }

    static func + (left: DeliveryCheck, right: DeliveryCheck) -> DeliveryCheck {
        DeliveryCheck(
            deliveries: left.deliveries + right.deliveries, lost: left.lost + right.lost, duplicated: left.duplicated + right.duplicated,
            reordered: left.reordered + right.reordered, unexpected: left.unexpected + right.unexpected)
    }

    /// `numbers` were published in index order by `posters` posters (index modulo posters);
    /// subscriber i should have received `expected(i)`, a subset of them.
    static func check(
        subscribers: [SSESubscriber], numbers: [Int64], posters: Int, expected: (Int) -> [Int64]
    ) -> DeliveryCheck {
        guard let first = numbers.first, let last = numbers.last else { return DeliveryCheck() }
        let range = min(first, last)...max(first, last)
        var poster: [Int64: Int] = [:]
        for (index, number) in numbers.enumerated() { poster[number] = index % posters }
        var result = DeliveryCheck()
        for (index, subscriber) in subscribers.enumerated() {
            let received = subscriber.record.received(in: range)
            let wanted = Set(expected(index))
            var seen: [Int64: Int] = [:]
            var lastOfPoster: [Int: Int64] = [:]
            for number in received {
                seen[number, default: 0] += 1
                guard wanted.contains(number), let lane = poster[number] else {
                    result.unexpected += 1
                    continue
                }
                if let previous = lastOfPoster[lane], number < previous { result.reordered += 1 }
                lastOfPoster[lane] = number
            }
            result.deliveries += received.count
            result.lost += wanted.filter { seen[$0] == nil }.count
            result.duplicated += seen.values.reduce(0) { $0 + max(0, $1 - 1) }
        }
        return result
    }
}
