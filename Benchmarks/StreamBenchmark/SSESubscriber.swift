import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sequence numbers carried in `{"n":…,"t":…}`: only events with `n` in this range are
/// latency samples; warm-up and saturation events use numbers above it.
let latencySampleRange: ClosedRange<Int64> = 1...999_999

/// How a server's SSE stream reads: which events are benchmark events, when a connection
/// counts as open, and where the sequence number and send time are in an event's data.
struct SSEFormat: Sendable {
    /// The `event:` of benchmark events; nil means every event that has a data line.
    var eventType: [UInt8]?
    /// The event that says the server has subscribed; nil means the first block (a comment
    /// counts) the server sends.
    var openEvent: [UInt8]?
    /// The data holds the sequence number and the send time as the first two unsigned
    /// integers after this marker.
    var marker: [UInt8]

    /// The gateway's bench routes: `event: bench.event`, `data: {"n":…,"t":…}`, open at `stream.open`.
    static let gatewayBench = SSEFormat(
        eventType: Array("bench.event".utf8), openEvent: Array("stream.open".utf8), marker: Array(#""n":"#.utf8))
    /// Nchan's EventSource subscriber: `id:` and `data:` (the published body, `{"n":…,"t":…}`)
    /// and no `event:` line; it greets a new subscriber with a `:hi` comment.
    static let nchan = SSEFormat(eventType: nil, openEvent: nil, marker: Array(#""n":"#.utf8))
    /// A guest's session stream: `reply.delta` events whose text is `bench n=… t=…`.
    static let replyDelta = SSEFormat(
        eventType: Array("reply.delta".utf8), openEvent: Array("stream.open".utf8), marker: Array("bench n=".utf8))
}

/// Counts deliveries across all subscribers: in total, and per event sequence number so the
/// driver knows when an event has reached every subscriber.
final class DeliveryLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var totalDeliveries = 0
    private var perEvent: [Int64: Int] = [:]

    func record(_ sequenceNumbers: [Int64]) {
        lock.withLock {
            totalDeliveries += sequenceNumbers.count
            for number in sequenceNumbers { perEvent[number, default: 0] += 1 }
        }
    }

    var total: Int { lock.withLock { totalDeliveries } }

    func deliveries(of number: Int64) -> Int { lock.withLock { perEvent[number] ?? 0 } }

    /// How many of `numbers` have reached at least `target` subscribers.
    func completed(_ numbers: some Sequence<Int64>, target: Int) -> Int {
        lock.withLock { numbers.reduce(0) { $0 + ((perEvent[$1] ?? 0) >= target ? 1 : 0) } }
    }

    func forget(_ number: Int64) { lock.withLock { perEvent[number] = nil } }

    /// Forgets every per-event count (between runs that reuse sequence numbers).
    func resetEvents() { lock.withLock { perEvent.removeAll() } }
}

/// What one subscriber saw. Written on its channel's event loop, read by the driver.
final class SubscriberRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var _status = 0
    private var _opened = false
    private var _closed = false
    private var _events = 0
    private var _samples: [(number: Int64, latency: Int64)] = []
    private var _received: [Int64] = []

    var status: Int { lock.withLock { _status } }
    /// The `stream.open` event arrived: the server has subscribed this stream to live events.
    var isOpen: Bool { lock.withLock { _opened && !_closed } }
    var isClosed: Bool { lock.withLock { _closed } }
    var eventCount: Int { lock.withLock { _events } }
    /// Latencies of the events numbered in `range`.
    func latencies(in range: ClosedRange<Int64>) -> [Int64] {
        lock.withLock { _samples.lazy.filter { range.contains($0.number) }.map(\.latency) }
    }

    /// Sequence numbers in `range`, in the order they arrived (duplicates included).
    func received(in range: ClosedRange<Int64>) -> [Int64] {
        lock.withLock { _received.filter { range.contains($0) } }
    }

    func dropSamples() {
        lock.withLock {
            _samples.removeAll()
            _received.removeAll()
        }
    }

    func setStatus(_ status: Int) { lock.withLock { _status = status } }
    func markOpened() { lock.withLock { _opened = true } }
    func markClosed() { lock.withLock { _closed = true } }
    func add(numbers: [Int64], samples: [(number: Int64, latency: Int64)]) {
        lock.withLock {
            _events += numbers.count
            _samples.append(contentsOf: samples)
            _received.append(contentsOf: numbers)
        }
    }
}

/// A minimal SSE client on one NIO channel: sends `GET path`, then scans the (de-chunked)
/// body for blank-line-terminated blocks, picking out `event:` and `data:` lines. Bench events
/// carry a sequence number and the send time in nanoseconds (`{"n":sequence,"t":send}` or, in
/// a reply's text, `bench n=sequence t=send`; see `SSEFormat`); the receive time is taken
/// once per read, on the event loop, before parsing.
final class SSESubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let path: String
    private let extraHeaders: [(String, String)]
    private let format: SSEFormat
    private let record: SubscriberRecord
    private let ledger: DeliveryLedger
    private var pending: ByteBuffer?
    private var sequenceNumbers: [Int64] = []
    private var samples: [(number: Int64, latency: Int64)] = []

    init(host: String, path: String, headers: [(String, String)], format: SSEFormat, record: SubscriberRecord, ledger: DeliveryLedger) {
        self.host = host
        self.path = path
        self.extraHeaders = headers
        self.format = format
        self.record = record
        self.ledger = ledger
    }

    func channelActive(context: ChannelHandlerContext) {
        let headers = HTTPHeaders([("Host", host), ("Accept", "text/event-stream"), ("Cache-Control", "no-cache")] + extraHeaders)
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            record.setStatus(Int(head.status.code))
        case .body(var buffer):
            let receivedAt = monotonicNanos()
            if pending == nil || pending!.readableBytes == 0 {
                pending = buffer
            } else {
                pending!.writeBuffer(&buffer)
            }
            scan(receivedAt: receivedAt)
        case .end:
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        record.markClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Handles every complete block in `pending` and keeps the incomplete rest.
    private func scan(receivedAt: Int64) {
        guard var buffer = pending else { return }
        var opened = false
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var blockStart = 0
            var index = 0
            while index + 1 < bytes.count {
                if bytes[index] == 0x0A && bytes[index + 1] == 0x0A {
                    if handleBlock(bytes, blockStart..<(index + 1), receivedAt: receivedAt) { opened = true }
                    index += 2
                    blockStart = index
                } else {
                    index += 1
                }
            }
            return blockStart
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
        }
        pending = buffer
        if opened { record.markOpened() }
        if !sequenceNumbers.isEmpty {
            ledger.record(sequenceNumbers)
            record.add(numbers: sequenceNumbers, samples: samples)
            sequenceNumbers.removeAll(keepingCapacity: true)
            samples.removeAll(keepingCapacity: true)
        }
    }

    private static let eventPrefix = Array("event: ".utf8)
    private static let dataPrefix = Array("data: ".utf8)

    /// One block, each line ending in LF. Returns true when it opens the stream (see `SSEFormat`).
    private func handleBlock(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, receivedAt: Int64) -> Bool {
        var isBench = format.eventType == nil
        var isOpen = format.openEvent == nil
        var dataLine: Range<Int>?
        var lineStart = range.lowerBound
        for index in range where bytes[index] == 0x0A {
            let line = lineStart..<index
            if Self.hasPrefix(bytes, line, Self.eventPrefix) {
                let value = (line.lowerBound + Self.eventPrefix.count)..<line.upperBound
                if let eventType = format.eventType { isBench = Self.equals(bytes, value, eventType) }
                if let openEvent = format.openEvent { isOpen = Self.equals(bytes, value, openEvent) }
            } else if Self.hasPrefix(bytes, line, Self.dataPrefix) {
                dataLine = (line.lowerBound + Self.dataPrefix.count)..<line.upperBound
            }
            lineStart = index + 1
        }
        if isBench, let dataLine, let start = Self.firstIndex(of: format.marker, in: bytes, dataLine) {
            // {"n":123,"t":456}: the first two unsigned integers after the marker, in that order.
            var numbers: [Int64] = []
            var current: Int64 = 0
            var inNumber = false
            for index in start..<dataLine.upperBound {
                let byte = bytes[index]
                if byte >= 0x30 && byte <= 0x39 {
                    current = current &* 10 &+ Int64(byte - 0x30)
                    inNumber = true
                } else if inNumber {
                    numbers.append(current)
                    current = 0
                    inNumber = false
                    if numbers.count == 2 { break }
                }
            }
            if inNumber && numbers.count < 2 { numbers.append(current) }
            if numbers.count == 2 {
                sequenceNumbers.append(numbers[0])
                if latencySampleRange.contains(numbers[0]) { samples.append((numbers[0], receivedAt - numbers[1])) }
            }
        }
        return isOpen
    }

    private static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ prefix: [UInt8]) -> Bool {
        guard range.count >= prefix.count else { return false }
        for offset in 0..<prefix.count where bytes[range.lowerBound + offset] != prefix[offset] { return false }
        return true
    }

    /// Where the bytes after the first occurrence of `marker` in `range` start.
    private static func firstIndex(of marker: [UInt8], in bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !marker.isEmpty, range.count >= marker.count else { return nil }
        var start = range.lowerBound
        while start + marker.count <= range.upperBound {
            if hasPrefix(bytes, start..<range.upperBound, marker) { return start + marker.count }
            start += 1
        }
        return nil
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ value: [UInt8]) -> Bool {
        range.count == value.count && hasPrefix(bytes, range, value)
    }
}

/// One open SSE connection.
struct SSESubscriber: Sendable {
    let channel: any Channel
    let record: SubscriberRecord

    static func connect(
        group: any EventLoopGroup, host: String, port: Int, path: String, headers: [(String, String)] = [],
        format: SSEFormat = .gatewayBench, ledger: DeliveryLedger
    ) async throws -> SSESubscriber {
        let record = SubscriberRecord()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        SSESubscriberHandler(
                            host: "\(host):\(port)", path: path, headers: headers, format: format, record: record, ledger: ledger))
                }
            }
            .connect(host: host, port: port).get()
        return SSESubscriber(channel: channel, record: record)
    }

    /// Waits for the stream to open (see `SSEFormat.openEvent`); false if it failed or did not
    /// open in time.
    func waitUntilOpen(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if record.isOpen { return true }
            if record.isClosed { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return record.isOpen
    }

    func close() async {
        try? await channel.close().get()
    }
}

/// Opens `count` subscribers to `path(index)`, at most `concurrency` connecting at a time,
/// and waits for each one to open. Throws if any fails.
func openSubscribers(
    count: Int, concurrency: Int, group: any EventLoopGroup, port: Int, ledger: DeliveryLedger, format: SSEFormat = .gatewayBench,
    headers: [(String, String)] = [], timeout: Duration = .seconds(15), path: @escaping @Sendable (Int) -> String
) async throws -> [SSESubscriber] {
    try await withThrowingTaskGroup(of: (Int, SSESubscriber).self) { taskGroup in
        var opened = [SSESubscriber?](repeating: nil, count: count)
        var next = 0
        func launch() {
            let index = next
            next += 1
            taskGroup.addTask {
                let subscriber = try await SSESubscriber.connect(
                    group: group, host: "127.0.0.1", port: port, path: path(index), headers: headers, format: format, ledger: ledger)
                guard await subscriber.waitUntilOpen(timeout: timeout) else {
                    let status = subscriber.record.status
                    await subscriber.close()
                    throw BenchError("SSE connection \(index) to \(path(index)) did not open (HTTP status \(status))")
                }
                return (index, subscriber)
            }
        }
        while next < min(concurrency, count) { launch() }
        do {
            while let (index, subscriber) = try await taskGroup.next() {
                opened[index] = subscriber
                if next < count { launch() }
            }
        } catch {
            taskGroup.cancelAll()
            while !taskGroup.isEmpty {
                if let result = try? await taskGroup.next() { opened[result.0] = result.1 }
            }
            await closeAll(opened.compactMap { $0 })
            throw error
        }
        return opened.map { $0! }
    }
}

func closeAll(_ subscribers: [SSESubscriber]) async {
    await withTaskGroup(of: Void.self) { group in
        for chunk in stride(from: 0, to: subscribers.count, by: 500) {
            let slice = Array(subscribers[chunk..<min(chunk + 500, subscribers.count)])
            group.addTask {
                for subscriber in slice { subscriber.channel.close(promise: nil) }
                for subscriber in slice { try? await subscriber.channel.closeFuture.get() }
            }
        }
    }
}
