import GatewayEvents
import GatewayStore

/// The three kinds of stream the relay writes to. Each is named by an id the gateway made and
/// never reuses (user, session and device instance ids), never by an id a client chose, so a
/// stream cannot outlive its owner into someone else's hands.
public enum RelayStreams {
    /// The relay inbox of one registration of a hosting device.
    public static func device(_ device: Device) -> StreamName { StreamName("device:\(device.instanceID)")! }
    /// The relay inbox of the device hosting `agent`.
    public static func device(of agent: Agent) -> StreamName { StreamName("device:\(agent.deviceInstanceID)")! }
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
    /// The last event of a deleted device's stream.
    public static let deviceDeleted = "device.deleted"
}
