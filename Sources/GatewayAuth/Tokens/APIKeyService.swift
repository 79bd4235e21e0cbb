import Foundation
import GatewayProtocol
import GatewayStore

/// Personal API keys for AI clients that take a static key (OpenAI-compatible API): created by a
/// signed-in user, shown once, stored as a SHA-256 hash, usable only on the routes that accept
/// them, and checked in the store on every use so a revocation holds at once on every replica.
package struct APIKeyService: Sendable {
    /// Every key starts with this, so a key is told from an access token without trying both.
    package static let keyPrefix = "gwk_"
    package static let maximumKeysPerUser = 20
    package static let maximumLifetime: TimeInterval = 366 * 24 * 3600

    package enum Refusal: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        case tooMany(maximum: Int)

        package var description: String {
            switch self {
            case .invalid(let detail): detail
            case .tooMany(let maximum): "you have \(maximum) API keys already; revoke one first"
            }
        }
    }

    let store: GatewayStore

    package init(store: GatewayStore) {
        self.store = store
    }

    package static func looksLikeKey(_ token: String) -> Bool { token.hasPrefix(keyPrefix) }

    /// A new key for `userID`; the returned `key` is the only time the secret exists outside the
    /// client.
    package func create(userID: String, name: String?, expiresIn: Int?, now: Date = Date()) async throws -> (
        record: APIKeyRecord, key: String
    ) {
        let name = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count), PersonText.refusedCharacter(in: name) == nil else {
            throw Refusal.invalid("name must be 1-100 characters without control or invisible formatting characters")
        }
        if let expiresIn, !(60...Int(Self.maximumLifetime)).contains(expiresIn) {
            throw Refusal.invalid("expires_in must be between 60 seconds and 366 days")
        }
        guard try await store.apiKeys(userID: userID, now: now).count < Self.maximumKeysPerUser else {
            throw Refusal.tooMany(maximum: Self.maximumKeysPerUser)
        }
        let key = Self.keyPrefix + OpaqueToken.generate()
        let record = try await store.createAPIKey(
            userID: userID, name: name, prefix: String(key.prefix(Self.keyPrefix.count + 6)), keyHash: OpaqueToken.hash(key),
            expiresAt: expiresIn.map { now.addingTimeInterval(TimeInterval($0)) }, now: now)
        return (record, key)
    }

    package func list(userID: String) async throws -> [APIKeyRecord] {
        try await store.apiKeys(userID: userID)
    }

    package func revoke(userID: String, id: String) async throws -> Bool {
        try await store.revokeAPIKey(userID: userID, id: id)
    }

    /// The working key `key` is, or nil.
    package func authenticate(_ key: String) async throws -> APIKeyRecord? {
        guard Self.looksLikeKey(key), key.utf8.count <= 100 else { return nil }
        return try await store.useAPIKey(keyHash: OpaqueToken.hash(key))
    }
}
