import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Device presence: a device is online while its event stream is open; the change reaches the
// owner's user stream and every open session with its agents.
extension RelayService {
    package func deviceStreamOpened(_ device: Device, connection: String) async {
        do {
            if try await bus.markOnline(device.instanceID, connection: connection, ttl: limits.presenceTTL) {
                logger.info("device online", metadata: ["event": "device.online", "device_id": .string(device.id)])
            }
            // The device is back: the stream it left for its lifetime no longer needs to hold it
            // online, so if this one drops the device is offline at once, not a presence TTL later.
            if let previous = try await ephemeral.take(Self.graceKey(device)) {
                try await bus.markOffline(device.instanceID, connection: previous)
            }
        } catch {
            logger.warning("presence update failed", metadata: ["device_id": .string(device.id), "error": "\(error)"])
        }
    }

    /// The connection of a stream the gateway ended for its lifetime, kept online until the
    /// device reconnects.
    private static func graceKey(_ device: Device) -> String { "presence-grace:\(device.instanceID)" }

    package func deviceStreamRefresh(_ device: Device, connection: String) async {
        _ = try? await bus.markOnline(device.instanceID, connection: connection, ttl: limits.presenceTTL)
    }

    /// A stream that ends with its client expected back (`reconnecting`: the server ended it for
    /// its lifetime or a shutdown) keeps the device online for one presence TTL; if no stream
    /// comes back by then, the presence sweep announces it offline.
    package func deviceStreamClosed(_ device: Device, connection: String, reconnecting: Bool) async {
        if reconnecting {
            _ = try? await bus.markOnline(device.instanceID, connection: connection, ttl: limits.presenceTTL)
            try? await ephemeral.set(Self.graceKey(device), connection, ttl: limits.presenceTTL)
            return
        }
        if (try? await bus.markOffline(device.instanceID, connection: connection)) == true {
            logger.info("device offline", metadata: ["event": "device.offline", "device_id": .string(device.id)])
        }
    }

    /// Tells everyone interested about presence changes. Every replica hears every change; one
    /// claims each change in the ephemeral store and writes the events, so they appear once.
    package func runPresenceFanOut() async {
        let changes = await bus.presenceChanges()
        defer { changes.cancel() }
        for await change in changes {
            do {
                let claim = "presence-fanout:\(change.subject):\(change.isOnline):\(change.sequence)"
                guard try await ephemeral.setIfAbsent(claim, "1", ttl: .seconds(60)) else { continue }
                // Said once, by the replica that claimed it: also when the presence sweep found a
                // device whose streams stopped being refreshed (its replica died), which no stream
                // close logged.
                logger.info(
                    change.isOnline ? "device online announced" : "device offline announced",
                    metadata: ["event": "presence.announced", "device_instance": .string(change.subject), "online": "\(change.isOnline)"])
                try await announceHostStatus(instanceID: change.subject, online: change.isOnline)
            } catch {
                logger.warning("presence fan-out failed", metadata: ["device_id": .string(change.subject), "error": "\(error)"])
            }
        }
    }

    func announceHostStatus(instanceID: String, online: Bool) async throws {
        guard let device = try await store.device(instanceID: instanceID) else { return }
        try await append(RelayStreams.user(device.ownerID), DeviceStatusEvent(deviceID: device.id, online: online))
        let agents = try await store.agents(deviceID: device.id)
        for guestID in try await store.guestIDs(deviceID: device.id) {
            for agent in agents {
                try await append(RelayStreams.user(guestID), HostStatusEvent(agentID: agent.id, online: online))
            }
        }
        for session in try await store.openSessions(deviceID: device.id) {
            try await append(RelayStreams.session(session.id), HostStatusEvent(agentID: session.agentID, online: online))
            if !online { try await interruptReplies(sessionID: session.id) }
        }
    }
}
