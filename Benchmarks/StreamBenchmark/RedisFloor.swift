import Foundation
import Logging
import NIOCore
import RedisClient

/// The floor: PUBLISH on one connection (the project's `RedisClient`) to a `RedisSubscriber`
/// on another, both in this process. One message in flight at a time; the payload carries the
/// send time and the consumer task takes the receive time as soon as it sees the message (the
/// same point the gateway's receiver starts fanning out from).
func measureRedisFloor(url: String, warmUp: Int = 200, messages: Int, timeout: Duration = .seconds(60)) async throws
    -> LatencySummary
{
    var logger = Logger(label: "bench.redis")
    logger.logLevel = .warning
    let configuration = try RedisConfiguration(url: url)
    let client = try RedisClient(configuration: configuration, logger: logger)
    let subscriber = try RedisSubscriber(configuration: configuration, logger: logger)
    let channel = "bench:floor:\(UUID().uuidString)"
    try await subscriber.subscribe([channel]) // applied when run() connects, before `.connected`

    // Receive times (minus send times) from the consumer; -1 announces the connection.
    let (received, receivedContinuation) = AsyncStream.makeStream(of: Int64.self)
    let runner = Task { await subscriber.run() }
    let consumer = Task {
        for await event in subscriber.events {
            switch event {
            case .connected:
                receivedContinuation.yield(-1)
            case .message(_, let payload):
                let now = monotonicNanos()
                if let sent = Int64(String(buffer: payload)) { receivedContinuation.yield(now - sent) }
            default:
                break
            }
        }
        receivedContinuation.finish()
    }
    // Bounds the whole measurement: finishing the stream ends every wait below.
    let watchdog = Task {
        try? await Task.sleep(for: timeout)
        receivedContinuation.finish()
    }
    defer {
        watchdog.cancel()
        consumer.cancel()
        runner.cancel()
    }

    var iterator = received.makeAsyncIterator()
    guard await iterator.next() == -1 else { throw BenchError("the Redis subscriber did not connect to \(url)") }
    var samples: [Int64] = []
    samples.reserveCapacity(messages)
    for index in 0..<(warmUp + messages) {
        _ = try await client.publish(channel, String(monotonicNanos()))
        guard let latency = await iterator.next() else {
            throw BenchError("PUBLISH→subscriber: message \(index) not received within the time limit")
        }
        if index >= warmUp { samples.append(latency) }
    }
    await subscriber.shutdown()
    await client.shutdown()
    guard let summary = LatencySummary(nanoseconds: samples) else { throw BenchError("no floor samples") }
    return summary
}
