import Crypto
import Foundation

/// One file of the web app, embedded in the binary at build time.
package struct WebAsset: Sendable {
    package let name: String
    package let contentType: String
    package let bytes: [UInt8]
    /// The first 16 hex digits of the SHA-256 of the contents: the `v` of versioned URLs and the
    /// (strong) ETag.
    package let version: String

    init(name: String, contentType: String, bytes: [UInt8]) {
        self.name = name
        self.contentType = contentType
        self.bytes = bytes
        self.version = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    package var etag: String { "\"\(version)\"" }
    /// The URL pages reference: changes whenever the contents do, so it can be cached for good.
    package var versionedPath: String { "/assets/web/\(name)?v=\(version)" }
}

/// The web app's static files (Sources/GatewayWeb/Assets), served under `/assets/web/`.
package enum WebAssets {
    /// The entry module: every page loads it with `<script type="module">`.
    package static let script = javaScript("app.js", PackageResources.app_js)
    package static let stylesheet = WebAsset(name: "app.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css)
    /// SHA-256 in plain JavaScript for PKCE where `crypto.subtle` is missing (plain-http hosts
    /// other than loopback are not a secure context); a module that auth.js imports.
    package static let sha256Fallback = javaScript("sha256.js", PackageResources.sha256_js)
    package static let icon = WebAsset(name: "icon.svg", contentType: "image/svg+xml", bytes: PackageResources.icon_svg)
    /// The script of AUTH_MODE=firebase's sign-in page.
    package static let firebaseSignIn = javaScript("firebase-sign-in.js", PackageResources.firebase_sign_in_js)

    /// The modules `script` imports, directly or through one another. Imports are relative
    /// (`./api.js`), so browsers ask for them without `?v=` and revalidate them with their ETags.
    package static let modules: [WebAsset] = [
        javaScript("agents.js", PackageResources.agents_js),
        javaScript("api.js", PackageResources.api_js),
        javaScript("auth.js", PackageResources.auth_js),
        javaScript("chat.js", PackageResources.chat_js),
        javaScript("conversations.js", PackageResources.conversations_js),
        javaScript("devices.js", PackageResources.devices_js),
        javaScript("dom.js", PackageResources.dom_js),
        javaScript("highlight.js", PackageResources.highlight_js),
        javaScript("invite.js", PackageResources.invite_js),
        javaScript("invite-dialog.js", PackageResources.invite_dialog_js),
        javaScript("markdown.js", PackageResources.markdown_js),
        javaScript("qr.js", PackageResources.qr_js),
        sha256Fallback,
        javaScript("shares.js", PackageResources.shares_js),
        javaScript("shell.js", PackageResources.shell_js),
        javaScript("sse.js", PackageResources.sse_js),
    ]

    package static let all: [String: WebAsset] = Dictionary(
        uniqueKeysWithValues: ([script, stylesheet, icon, firebaseSignIn] + modules).map { ($0.name, $0) })

    /// Browsers run a module only if it is served with a JavaScript MIME type.
    static func javaScript(_ name: String, _ bytes: [UInt8]) -> WebAsset {
        WebAsset(name: name, contentType: "text/javascript; charset=utf-8", bytes: bytes)
    }
}
