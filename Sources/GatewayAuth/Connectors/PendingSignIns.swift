import Foundation
import GatewayEphemeral

/// A sign-in that went to the identity provider and has not come back yet.
package struct PendingSignIn: Sendable, Codable, Equatable {
    /// What the sign-in completes once the person is known.
    package enum Purpose: Sendable, Codable, Equatable {
        /// An `/oauth/authorize` request (its parked request id).
        case authorization(requestID: String)
        /// A device user code to approve or deny.
        case device(userCode: String, approve: Bool)
    }

    package let purpose: Purpose
    /// The browser that started it; the callback must come from the same one.
    package let browserID: String
    /// What the connector keeps (nonce, PKCE verifier).
    package let kept: String

    package init(purpose: Purpose, browserID: String, kept: String) {
        self.purpose = purpose
        self.browserID = browserID
        self.kept = kept
    }
}

/// Pending sign-ins in the ephemeral store under a hash of their `state`: one-time, about ten
/// minutes, visible to every replica (the callback may reach another one than the start).
package struct PendingSignIns: Sendable {
    package static let lifetime: Duration = .seconds(600)
    let ephemeral: any EphemeralStore

    package init(ephemeral: any EphemeralStore) {
        self.ephemeral = ephemeral
    }

    /// A fresh `state` for a sign-in about to start.
    package static func makeState() -> String { OpaqueToken.generate() }

    package func park(_ pending: PendingSignIn, state: String) async throws {
        let encoded = String(decoding: try JSONEncoder().encode(pending), as: UTF8.self)
        try await ephemeral.set(Self.key(state), encoded, ttl: Self.lifetime)
    }

    /// The pending sign-in of `state`, removed so it cannot complete twice; nil when unknown,
    /// expired or already used.
    package func take(state: String) async throws -> PendingSignIn? {
        guard (1...512).contains(state.utf8.count), let raw = try await ephemeral.take(Self.key(state)) else { return nil }
        return try JSONDecoder().decode(PendingSignIn.self, from: Data(raw.utf8))
    }

    static func key(_ state: String) -> String { "signin:\(OpaqueToken.hash(state))" }
}
