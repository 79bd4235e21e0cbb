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
