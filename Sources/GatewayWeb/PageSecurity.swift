import Hummingbird

/// The security headers of every HTML page and web asset the gateway serves: the web app's and
/// the server-rendered sign-in pages'. One place, so a page cannot be served with a weaker set.
package enum PageSecurity {
    /// A Content-Security-Policy from `(directive, sources)` pairs, in order.
    package static func policy(_ directives: [(String, [String])]) -> String {
        directives.map { "\($0.0) \($0.1.joined(separator: " "))" }.joined(separator: "; ")
    }

    package static func headers(contentSecurityPolicy: String, cacheControl: String) -> HTTPFields {
        [
            .contentSecurityPolicy: contentSecurityPolicy,
            .cacheControl: cacheControl,
            .init("X-Content-Type-Options")!: "nosniff",
            // Invite codes and OAuth codes travel in these pages' URLs: never send them on.
            .init("Referrer-Policy")!: "no-referrer",
            .init("X-Frame-Options")!: "DENY",
        ]
    }
}
