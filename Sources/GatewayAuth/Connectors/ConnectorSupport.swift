import Foundation
import GatewayProtocol

/// Small pieces the network connectors (GatewayOIDC, GatewayFirebase) share.
extension SignedInPerson {
    /// A name from a provider's claims as the gateway shows it: without control and hidden
    /// format characters (`PersonText`), trimmed, at most 64 characters.
    package static func displayable(_ text: String) -> String {
        String(PersonText.displayable(text).trimmingCharacters(in: .whitespacesAndNewlines).prefix(64))
    }
}

/// `Cache-Control` of a provider's key document.
package enum CacheControl {
    /// The `max-age` directive, or nil when there is none.
    package static func maxAge(_ header: String?) -> Duration? {
        guard let header else { return nil }
        for directive in header.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]) { return .seconds(seconds) }
        }
        return nil
    }
}
