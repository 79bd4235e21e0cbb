import Foundation
import GatewayEphemeral

/// A sign-in that went to the identity provider and has not come back yet.
public struct PendingSignIn: Sendable, Codable, Equatable {
    /// What the sign-in completes once the person is known.
    public enum Purpose: Sendable, Codable, Equatable {
        /// An `/oauth/authorize` request (its parked request id).
        case authorization(requestID: String)
        /// A device user code to approve or deny.
        case device(userCode: String, approve: Bool)
    }

    public let purpose: Purpose
    /// The browser that started it; the callback must come from the same one.
    public let browserID: String
    /// What the connector keeps (nonce, PKCE verifier).
    public let kept: String

    public init(purpose: Purpose, browserID: String, kept: String) {
        self.purpose = purpose
        self.browserID = browserID
        self.kept = kept
    }
}

/// Pending sign-ins in the ephemeral store under a hash of their `state`: one-time, about ten
/// minutes, visible to every replica (the callback may reach another one than the start).
public struct PendingSignIns: Sendable {
    public static let lifetime: Duration = .seconds(600)
    let ephemeral: any EphemeralStore

    public init(ephemeral: any EphemeralStore) {
        self.ephemeral = ephemeral
    }

    /// A fresh `state` for a sign-in about to start.
    public static func makeState() -> String { OpaqueToken.generate() }

    public func park(_ pending: PendingSignIn, state: String) async throws {
        let encoded = String(decoding: try JSONEncoder().encode(pending), as: UTF8.self)
        try await ephemeral.set(Self.key(state), encoded, ttl: Self.lifetime)
    }

    /// The pending sign-in of `state`, removed so it cannot complete twice; nil when unknown,
    /// expired or already used.
    public func take(state: String) async throws -> PendingSignIn? {
        guard (1...512).contains(state.utf8.count), let raw = try await ephemeral.take(Self.key(state)) else { return nil }
        return try JSONDecoder().decode(PendingSignIn.self, from: Data(raw.utf8))
    }

    static func key(_ state: String) -> String { "signin:\(OpaqueToken.hash(state))" }
}
