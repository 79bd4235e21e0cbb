import GatewayEvents

/// The three kinds of stream the relay writes to.
public enum RelayStreams {
    /// The relay inbox of a hosting device.
    public static func device(_ id: String) -> StreamName { StreamName("device:\(id)")! }
    /// One chat session.
    public static func session(_ id: String) -> StreamName { StreamName("session:\(id)")! }
    /// A user's notifications.
    public static func user(_ id: String) -> StreamName { StreamName("user:\(id)")! }
}

/// Event types, as documented in docs/protocol.md.
public enum RelayEvent {
    public static let sessionCreated = "session.created"
    public static let sessionClosed = "session.closed"
    public static let messageCreated = "message.created"
    public static let replyDelta = "reply.delta"
    public static let replyDone = "reply.done"
    public static let replyError = "reply.error"
    public static let hostStatus = "host.status"
    public static let shareCreated = "share.created"
    public static let shareAccepted = "share.accepted"
    public static let shareRevoked = "share.revoked"
    public static let deviceStatus = "device.status"
    public static let agentUnpublished = "agent.unpublished"
}
