import GatewayEvents
import GatewayStore

/// The three kinds of stream the relay writes to. Each is named by an id the gateway made and
/// never reuses (user, session and device instance ids), never by an id a client chose, so a
/// stream cannot outlive its owner into someone else's hands.
package enum RelayStreams {
    /// The relay inbox of one registration of a hosting device.
    package static func device(_ device: Device) -> StreamName { StreamName("device:\(device.instanceID)")! }
    /// The relay inbox of the device hosting `agent`.
    package static func device(of agent: Agent) -> StreamName { StreamName("device:\(agent.deviceInstanceID)")! }
    /// One chat session.
    package static func session(_ id: String) -> StreamName { StreamName("session:\(id)")! }
    /// A user's notifications.
    package static func user(_ id: String) -> StreamName { StreamName("user:\(id)")! }
}
