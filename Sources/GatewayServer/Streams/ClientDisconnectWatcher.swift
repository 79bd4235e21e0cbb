import NIOCore

/// Notices a client that went away while a long-lived response is being written.
///
/// Hummingbird allows remote half-closure, so a client that closes its socket (FIN) does not
/// close the channel: the server would only notice at its next write, up to a heartbeat later.
/// EventSource clients never half-close, so for an event stream "input closed" means gone.
final class ClientDisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let gone: EventLoopPromise<Void>

    init(gone: EventLoopPromise<Void>) {
        self.gone = gone
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { gone.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone.succeed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        gone.succeed()
    }

    /// Waits until the client behind `channel` is gone (or the watcher is removed).
    static func waitUntilGone(_ channel: any Channel) async {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let installed = channel.eventLoop.submit {
            let watcher = ClientDisconnectWatcher(gone: promise)
            try channel.pipeline.syncOperations.addHandler(watcher, position: .first)
            return NIOLoopBound(watcher, eventLoop: channel.eventLoop)
        }
        guard let watcher = try? await installed.get() else {
            // The pipeline is gone already: so is the client. (Complete the promise: NIO
            // insists every promise is fulfilled.)
            promise.succeed()
            return
        }
        await withTaskCancellationHandler {
            try? await promise.futureResult.get()
        } onCancel: {
            channel.eventLoop.execute {
                channel.pipeline.syncOperations.removeHandler(watcher.value).whenComplete { _ in }
            }
        }
    }
}
