import Foundation
import GatewayEvents
import GatewayProtocol

/// The credential a long response was opened with (an MCP stream or tool call, a completion), so
/// that revoking it ends the response at once on every replica.
package enum CallerCredential: Sendable, Equatable {
    /// A personal API key.
    case apiKey(id: String)
    /// An access token of one sign-in (its refresh token family).
    case signIn(familyID: String)

    package func isRevoked(by event: CredentialRevokedEvent) -> Bool {
        switch self {
        case .apiKey(let id): event.apiKeyID == id
        case .signIn(let familyID): event.familyID == familyID
        }
    }
}

// Revocation reaching open responses: the revoking replica appends `credential.revoked` to the
// user's stream; every replica's responses under that credential watch the stream and end.
extension RelayService {
    /// Tells every replica that `credential` of `userID` was revoked.
    package func announceRevoked(_ credential: CallerCredential, userID: String) async {
        let event =
            switch credential {
            case .apiKey(let id): CredentialRevokedEvent(apiKeyID: id)
            case .signIn(let familyID): CredentialRevokedEvent(familyID: familyID)
            }
        do {
            try await append(RelayStreams.user(userID), event)
        } catch {
            // The revocation itself holds (it is in the store); open responses end at their limits.
            logger.warning(
                "could not announce a revoked credential", metadata: ["event": "relay.revocation_unannounced", "user_id": .string(userID)])
        }
    }

    /// `announceRevoked` for a revoked sign-in, whose user is looked up.
    package func announceRevokedSignIn(familyID: String) async {
        guard let userID = try? await store.refreshFamilyUser(familyID) else { return }
        await announceRevoked(.signIn(familyID: familyID), userID: userID)
    }

    /// Whether the sign-in `familyID` still holds (not revoked): its access tokens stay valid
    /// until they expire, so a route that must refuse them at once asks here.
    package func isSignInActive(familyID: String) async throws -> Bool {
        try await store.isRefreshFamilyActive(familyID)
    }

    /// Waits until `credential` is revoked (true), or until the wait is cancelled (false).
    func waitForRevocation(of credential: CallerCredential, userID: String) async -> Bool {
        guard let subscription = try? await bus.subscribe(RelayStreams.user(userID)) else { return false }
        defer { subscription.cancel() }
        return await withTaskCancellationHandler {
            for await signal in subscription {
                guard case .event(let event) = signal, event.type == EventType.credentialRevoked.rawValue,
                    case .credentialRevoked(let revoked) = GatewayEvent(type: event.type, data: event.data)
                else { continue }
                if credential.isRevoked(by: revoked) { return true }
            }
            return false
        } onCancel: {
            subscription.cancel()
        }
    }

    /// Ends `continuation` with `CompletionFailure.credentialRevoked` (and `ending` the reply's
    /// work) when `credential` is revoked; the returned task is cancelled when the reply ends.
    func watchRevocation(
        of credential: CallerCredential?, userID: String, continuation: AsyncThrowingStream<CompletionUpdate, any Error>.Continuation,
        ending subscription: EventSubscription
    ) -> Task<Void, Never>? {
        guard let credential else { return nil }
        return Task {
            guard await self.waitForRevocation(of: credential, userID: userID), !Task.isCancelled else { return }
            continuation.finish(throwing: CompletionFailure.credentialRevoked)
            subscription.cancel()
        }
    }
}
