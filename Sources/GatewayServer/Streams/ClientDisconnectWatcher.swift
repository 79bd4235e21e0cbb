import NIOCore

/// Notices a client that went away while a long-lived response is being written.
///
/// Hummingbird allows remote half-closure, so a client that closes its socket (FIN) does not
/// close the channel: the server would only notice at its next write, up to a heartbeat later.
/// EventSource clients never half-close, so for an event stream "input closed" means gone.
final class ClientDisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Called at most once, on the channel's event loop.
    private var onGone: (@Sendable () -> Void)?

    private init(onGone: @escaping @Sendable () -> Void) {
        self.onGone = onGone
    }

    private func fire() {
        let callback = onGone
        onGone = nil
        callback?()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    /// Removes the watcher from its channel without calling back.
    struct Installed: Sendable {
        fileprivate let channel: any Channel
        fileprivate let watcher: NIOLoopBound<ClientDisconnectWatcher>

        func remove() {
            let channel = self.channel
            let watcher = self.watcher
            channel.eventLoop.execute {
                watcher.value.onGone = nil
                channel.pipeline.syncOperations.removeHandler(watcher.value).whenComplete { _ in }
            }
        }
    }

    /// Calls `onGone` once when the client behind `channel` goes away. Returns nil when it has
    /// gone already (the pipeline is closed).
    static func install(on channel: any Channel, onGone: @escaping @Sendable () -> Void) async -> Installed? {
        let installed = channel.eventLoop.submit {
            guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
            let watcher = ClientDisconnectWatcher(onGone: onGone)
            try channel.pipeline.syncOperations.addHandler(watcher, position: .first)
            return NIOLoopBound(watcher, eventLoop: channel.eventLoop)
        }
        guard let watcher = try? await installed.get() else { return nil }
        return Installed(channel: channel, watcher: watcher)
    }
}
