import Crypto
import Foundation

/// One file of the web app, embedded in the binary at build time.
public struct WebAsset: Sendable {
    public let name: String
    public let contentType: String
    public let bytes: [UInt8]
    /// The first 16 hex digits of the SHA-256 of the contents: the `v` of versioned URLs and the
    /// (strong) ETag.
    public let version: String

    init(name: String, contentType: String, bytes: [UInt8]) {
        self.name = name
        self.contentType = contentType
        self.bytes = bytes
        self.version = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public var etag: String { "\"\(version)\"" }
    /// The URL pages reference: changes whenever the contents do, so it can be cached for good.
    public var versionedPath: String { "/assets/web/\(name)?v=\(version)" }
}

/// The web app's static files (Sources/GatewayWeb/Assets), served under `/assets/web/`.
public enum WebAssets {
    public static let script = WebAsset(name: "app.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js)
    public static let stylesheet = WebAsset(name: "app.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css)
    /// SHA-256 in plain JavaScript for PKCE where `crypto.subtle` is missing (plain-http hosts
    /// other than loopback are not a secure context).
    public static let sha256Fallback = WebAsset(
        name: "sha256.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.sha256_js)
    public static let icon = WebAsset(name: "icon.svg", contentType: "image/svg+xml", bytes: PackageResources.icon_svg)
    /// The script of AUTH_MODE=firebase's sign-in page.
    public static let firebaseSignIn = WebAsset(
        name: "firebase-sign-in.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.firebase_sign_in_js)

    public static let all: [String: WebAsset] = Dictionary(
        uniqueKeysWithValues: [script, stylesheet, sha256Fallback, icon, firebaseSignIn].map { ($0.name, $0) })
}
