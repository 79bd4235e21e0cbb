import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Access tokens this process has already verified, so a client that sends the same token many
/// times (a host streaming reply deltas, a chat polling) pays for the Ed25519 check once.
///
/// Only tokens that passed every check are kept, keyed by their SHA-256 (the tokens themselves
/// are not retained), with their expiry, which is checked again on every hit. Access tokens are
/// not revocable before they expire, so a hit is exactly what a full verification would say.
final class VerifiedTokenCache: Sendable {
    struct Entry: Sendable {
        let claims: AccessTokenClaims
        let expiresAt: Int
    }

    private let entries = NIOLockedValueBox([SHA256Digest: Entry]())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    static func key(_ token: String) -> SHA256Digest { SHA256.hash(data: Data(token.utf8)) }

    /// The claims of a verified token that has not expired at `now` (with `leeway`).
    func claims(for key: SHA256Digest, now: Date, leeway: TimeInterval) -> AccessTokenClaims? {
        entries.withLockedValue { entries in
            guard let entry = entries[key] else { return nil }
            guard now.timeIntervalSince1970 < TimeInterval(entry.expiresAt) + leeway else {
                entries[key] = nil
                return nil
            }
            return entry.claims
        }
    }

    func insert(_ key: SHA256Digest, claims: AccessTokenClaims, expiresAt: Int, now: Date) {
        entries.withLockedValue { entries in
            if entries.count >= capacity {
                // Expired entries go first; if every entry is live, start over (rare: the capacity
                // is far above the tokens live at once on one replica).
                let cutoff = Int(now.timeIntervalSince1970)
                entries = entries.filter { $0.value.expiresAt > cutoff }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(claims: claims, expiresAt: expiresAt)
        }
    }
}
