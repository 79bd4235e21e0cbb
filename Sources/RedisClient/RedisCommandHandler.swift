import Logging
import NIOCore

/// Thrown when a request was rejected before any of it was written (the connection had already
/// closed). Unlike a failure after writing, the commands certainly did not run, so the pool may
/// retry them on another connection.
struct RequestNotSentError: Error {}

/// A batch of encoded commands written in one go, answered by `expectedReplies` replies in order.
struct RedisRequest: Sendable {
    enum Kind: Sendable {
        case regular
        /// (UN)SUBSCRIBE commands followed by one PING. Subscribe confirmations arrive as pushes and
        /// take no reply slot, but a rejected subscription arrives as an ordinary error reply; such
        /// errors are collected without counting, so only the PING reply completes the request.
        case subscriptionBarrier
    }

    var bytes: ByteBuffer
    var expectedReplies: Int
    /// Used in timeout errors and logs; never includes arguments.
    var commandName: String
    var timeout: Duration
    var kind: Kind
    var promise: EventLoopPromise<[RESPValue]>
}

/// Matches replies to requests (a FIFO, so many requests can be in flight: pipelining) and routes
/// out-of-band pub/sub frames to `pushHandler`.
///
/// Timeouts: a request not fully answered within its timeout is failed with `commandTimedOut` and
/// the connection is closed, failing everything queued behind it. We close rather than keep waiting
/// because a server that is silent for the whole timeout is far more likely dead or partitioned than
/// slow, and a closed connection is replaced by the pool, whereas a kept one would stall every later
/// request on it too.
///
/// Cancellation: the caller fails its own promise and walks away, but the request keeps its slot in
/// the FIFO; its reply is still consumed here when it arrives and then dropped (completing an
/// already-completed promise is a no-op in NIO). So a cancelled command can never shift replies onto
/// the wrong requests, and the connection stays usable. The abandoned slot keeps its timeout: if its
/// reply never comes, the connection is closed as for any other request.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct PendingRequest {
        var id: UInt64
        var remainingReplies: Int
        var commandName: String
        var timeout: Duration
        var kind: RedisRequest.Kind
        var promise: EventLoopPromise<[RESPValue]>
        var timeoutTask: Scheduled<Void>?
    }

    private var pending = CircularBuffer<PendingRequest>(initialCapacity: 16)
    /// Replies received so far for the request at the head of `pending`. Kept outside the queue so
    /// appending to a large pipeline's replies never copies the array.
    private var headReplies: [RESPValue] = []
    private var nextRequestID: UInt64 = 0
    /// Set once the channel is unusable; later writes fail immediately with it.
    private var closedError: RedisError?
    private let pushHandler: (@Sendable ([RESPValue]) -> Void)?
    /// RESP2 pub/sub messages are plain arrays; recognise them on subscriber connections only.
    private let recognizesRESP2PubSubArrays: Bool
    private let logger: Logger

    init(pushHandler: (@Sendable ([RESPValue]) -> Void)?, recognizesRESP2PubSubArrays: Bool, logger: Logger) {
        self.pushHandler = pushHandler
        self.recognizesRESP2PubSubArrays = recognizesRESP2PubSubArrays
        self.logger = logger
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise writePromise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if closedError != nil {
            // Nothing of this request reached the wire, which makes it safe to retry elsewhere.
            request.promise.fail(RequestNotSentError())
            writePromise?.fail(RequestNotSentError())
            return
        }
        if request.expectedReplies == 0 {
            request.promise.succeed([])
        } else {
            let id = nextRequestID
            nextRequestID &+= 1
            let timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(request.timeout)) {
                self.requestTimedOut(id: id, context: context)
            }
            if pending.isEmpty { headReplies.reserveCapacity(min(request.expectedReplies, 65536)) }
            pending.append(
                PendingRequest(
                    id: id,
                    remainingReplies: request.expectedReplies,
                    commandName: request.commandName,
                    timeout: request.timeout,
                    kind: request.kind,
                    promise: request.promise,
                    timeoutTask: timeoutTask
                )
            )
        }
        context.write(wrapOutboundOut(request.bytes), promise: writePromise)
    }

    private func requestTimedOut(id: UInt64, context: ChannelHandlerContext) {
        guard let request = pending.first(where: { $0.id == id }) else { return }
        logger.debug("Redis command timed out; closing connection", metadata: ["redis.command": "\(request.commandName)"])
        // Close before completing the caller, so by the time it runs the connection reports
        // itself inactive and the pool will not hand it out again.
        closeAndFailAll(context: context, with: .connectionClosed, except: id)
        request.promise.fail(RedisError.commandTimedOut(command: request.commandName, timeout: request.timeout))
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if case .push(let elements) = value {
            deliverPush(elements)
            return
        }
        if recognizesRESP2PubSubArrays, case .array(let elements) = value, Self.isPubSubFrame(elements) {
            deliverPush(elements)
            return
        }
        guard !pending.isEmpty else {
            // A reply nobody asked for: we can no longer tell which reply belongs to which request.
            logger.error("Redis sent a reply with no request waiting; closing connection")
            closeAndFailAll(context: context, with: .protocolError(message: "unsolicited reply"))
            return
        }
        headReplies.append(value)
        if pending[pending.startIndex].kind == .subscriptionBarrier, case .error = value {
            return
        }
        pending[pending.startIndex].remainingReplies -= 1
        if pending[pending.startIndex].remainingReplies == 0 {
            let request = pending.removeFirst()
            request.timeoutTask?.cancel()
            let replies = headReplies
            headReplies = []
            request.promise.succeed(replies)
        }
    }

    private func deliverPush(_ elements: [RESPValue]) {
        if let pushHandler {
            pushHandler(elements)
        } else {
            logger.debug("Ignoring Redis push frame", metadata: ["redis.push": "\(elements.first?.string ?? "?")"])
        }
    }

    private static let pubSubFrameKinds: Set<String> = [
        "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
        "sunsubscribe",
    ]

    private static func isPubSubFrame(_ elements: [RESPValue]) -> Bool {
        guard elements.count >= 3, let kind = elements[0].string else { return false }
        return pubSubFrameKinds.contains(kind)
    }

    // MARK: Lifecycle

    func channelInactive(context: ChannelHandlerContext) {
        failAll(with: .connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let redisError: RedisError
        switch error {
        case let error as RESPParsingError:
            redisError = .protocolError(message: error.message)
        case let error as ByteToMessageDecoderError:
            redisError = .protocolError(message: "\(error)")
        default:
            redisError = .connectionFailed(message: "\(error)")
        }
        logger.debug("Redis connection error; closing", metadata: ["error": "\(redisError)"])
        closeAndFailAll(context: context, with: redisError)
    }

    /// Closes the channel first (so it reports inactive before any caller resumes), then fails
    /// every pending request with `error`, except the one with ID `excluded`.
    private func closeAndFailAll(context: ChannelHandlerContext, with error: RedisError, except excluded: UInt64? = nil) {
        if closedError == nil { closedError = error }
        let failed = pending
        pending.removeAll()
        headReplies = []
        context.close(promise: nil)
        for request in failed {
            request.timeoutTask?.cancel()
            if request.id != excluded { request.promise.fail(error) }
        }
    }

    private func failAll(with error: RedisError) {
        if closedError == nil { closedError = error }
        headReplies = []
        while let request = pending.popFirst() {
            request.timeoutTask?.cancel()
            request.promise.fail(error)
        }
    }
}
