import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Devices: registration, listing, renaming and deletion of a user's hosting devices.
extension RelayService {
    static func isValidIdentifier(_ id: String) -> Bool {
        (1...64).contains(id.count) && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func validatedName(_ name: String?, field: String) throws(RelayError) -> String {
        let trimmed = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count) else { throw .invalid("\(field) must be 1 to 100 characters") }
        return try withoutControlCharacters(trimmed, field: field)
    }

    /// Names, descriptions and labels are shown in other people's browsers, terminals and AI
    /// clients' tool lists: control characters (C0 and C1, which carry terminal escape
    /// sequences) and hidden format characters (bidi overrides, zero-width spaces, tag
    /// characters) are refused (`PersonText`), as they are in display names. `allowingLineBreaks`
    /// admits newline and tab in longer texts.
    static func withoutControlCharacters(_ text: String, field: String, allowingLineBreaks: Bool = false) throws(RelayError) -> String {
        if let refused = PersonText.refusedCharacter(in: text, allowingLineBreaks: allowingLineBreaks) {
            let code = "U+" + String(refused.value, radix: 16, uppercase: true).leftPadded(to: 4)
            throw .invalid(
                "\(field) must not contain control or invisible formatting characters\(allowingLineBreaks ? " (newline and tab are fine)" : "") (found \(code))"
            )
        }
        return text
    }

    package func registerDevice(userID: String, id: String, name: String?, platform: String?) async throws -> (DeviceView, created: Bool) {
        guard Self.isValidIdentifier(id) else { throw RelayError.invalid("device ids are 1-64 letters, digits, '-' or '_'") }
        let name = try Self.validatedName(name, field: "name")
        let platform = try Self.withoutControlCharacters(String((platform ?? "unknown").prefix(50)), field: "platform")
        do {
            let (device, created) = try await store.registerDevice(id: id, ownerID: userID, name: name, platform: platform)
            return (try await view(device), created)
        } catch is DeviceIDTaken {
            throw RelayError.conflict("this device id is registered to another account; choose another id")
        }
    }

    package func devices(userID: String) async throws -> [DeviceView] {
        var views: [DeviceView] = []
        for device in try await store.devices(ownerID: userID) { views.append(try await view(device)) }
        return views
    }

    /// The caller's own device, or not found.
    package func ownDevice(userID: String, id: String) async throws -> Device {
        guard let device = try await store.device(id: id), device.ownerID == userID else { throw RelayError.notFound("device not found") }
        return device
    }

    package func renameDevice(userID: String, id: String, name: String?) async throws -> DeviceView {
        let name = try Self.validatedName(name, field: "name")
        guard let device = try await store.renameDevice(id: id, ownerID: userID, name: name) else {
            throw RelayError.notFound("device not found")
        }
        return try await view(device)
    }

    package func deleteDevice(userID: String, id: String) async throws {
        let agents = try await store.agents(deviceID: id)
        guard let device = try await store.device(id: id), device.ownerID == userID,
            let closed = try await store.deleteDevice(id: id, ownerID: userID)
        else { throw RelayError.notFound("device not found") }
        for session in closed { try await announceClosed(session, reason: .deviceDeleted) }
        // Ends the deleted registration's open streams; the id may be registered again, but
        // under a new instance id whose stream starts empty.
        try await append(RelayStreams.device(device), DeviceDeletedEvent(deviceID: id))
        for agent in agents {
            try await append(RelayStreams.user(userID), AgentUnpublishedEvent(agentID: agent.id, deviceID: id))
        }
    }

    func view(_ device: Device) async throws -> DeviceView {
        DeviceView(
            id: device.id, name: device.name, platform: device.platform, online: try await bus.isOnline(device.instanceID),
            createdAt: device.createdAt, updatedAt: device.updatedAt)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
