import Foundation

// The `/v1` API's resources as docs/openapi.yaml describes them. Dates stay RFC 3339 strings:
// the client only shows them.

/// RFC 9457 problem details.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?

    public init(type: String, title: String, status: Int, detail: String? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
    }

    /// The last part of `urn:agent-gateway:problem:<slug>`.
    public var slug: String { type.split(separator: ":").last.map(String.init) ?? type }
}

public struct Me: Codable, Sendable {
    public var id: String
    public var displayName: String
    public var authMode: String
    public var nonProduction: Bool
}

public struct DeviceView: Codable, Sendable {
    public var id: String
    public var name: String
    public var platform: String
    public var online: Bool
    public var createdAt: String
    public var updatedAt: String
}

public struct AgentView: Codable, Sendable {
    public var id: String
    public var deviceId: String
    public var key: String
    public var name: String
    public var description: String
    public var ownerId: String
    public var ownerName: String
    public var access: String
    public var shareId: String?
    public var hostOnline: Bool
}

public struct GuestView: Codable, Sendable {
    public var userId: String
    public var displayName: String
    public var acceptedAt: String
    public var left: Bool
}

public struct ShareView: Codable, Sendable {
    public var id: String
    public var agentId: String
    public var agentName: String
    public var label: String?
    public var expiresAt: String?
    public var maxUses: Int?
    public var useCount: Int
    public var createdAt: String
    public var revokedAt: String?
    public var status: String
    public var guests: [GuestView]?
}

public struct CreatedShare: Codable, Sendable {
    public var share: ShareView
    public var code: String
    public var inviteUrl: String
}

public struct AcceptedInvite: Codable, Sendable {
    public var share: ShareView
    public var agent: AgentView
    public var newlyAccepted: Bool
}

public struct SessionView: Codable, Sendable {
    public var id: String
    public var agentId: String
    public var agentName: String
    public var shareId: String?
    public var closedAt: String?
    public var hostOnline: Bool
    public var streamPosition: String
}

public struct Message: Codable, Sendable, Equatable {
    public var id: String
    public var sessionId: String
    public var role: String
    public var authorId: String?
    public var replyTo: String?
    public var text: String
    public var createdAt: String
}

public struct PostedMessage: Codable, Sendable {
    public var message: Message
    public var hostOnline: Bool
    public var queued: Bool
    public var created: Bool
}

public struct UserRef: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String
}

/// The bodies the client sends.
public enum RequestBodies {
    public struct Device: Encodable, Sendable {
        public var name: String
        public var platform: String
    }

    public struct Agent: Encodable, Sendable {
        public var name: String
        public var description: String
        public var capabilities: [String]
    }

    public struct Share: Encodable, Sendable {
        public var label: String?
        public var expiresIn: Int?
        public var maxUses: Int?

        public init(label: String?, expiresIn: Int?, maxUses: Int?) {
            self.label = label
            self.expiresIn = expiresIn
            self.maxUses = maxUses
        }
    }

    public struct Session: Encodable, Sendable {
        public var agentId: String
    }

    public struct MessageBody: Encodable, Sendable {
        public var text: String
    }

    public struct Reply: Encodable, Sendable {
        public var kind: String
        public var replyTo: String
        public var text: String
        public var index: Int?
    }
}

/// JSON coders for the API's snake_case.
enum APICoding {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}
