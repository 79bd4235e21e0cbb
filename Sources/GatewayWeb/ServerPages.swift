import Foundation
import Hummingbird
import Mustache

/// The server-rendered pages: the templates in Templates/, each a child of the one page frame
/// (frame.mustache). Mustache escapes every `{{value}}` for HTML; the two places that insert
/// markup (`{{{…}}}`) take the invite's JSON, escaped for a script data block, and a sign-in
/// connector's own fixed markup, never text a person typed.
///
/// Why swift-mustache: it is Hummingbird's own template library (in the package mirror), it
/// escapes by default, and its template inheritance gives every page one frame.
package enum ServerPages {
    /// The frame around a page.
    package struct Frame: Sendable {
        package var title: String
        /// Every page of a demo gateway carries the non-production banner.
        package var nonProduction: Bool
        /// An app page's extras; nil for a sign-in page.
        package var app: AppFrame?

        package init(title: String, nonProduction: Bool, app: AppFrame? = nil) {
            self.title = title
            self.nonProduction = nonProduction
            self.app = app
        }
    }

    /// What an app page's frame adds: the settings app.js reads, its assets and navigation.
    package struct AppFrame: Sendable {
        var baseURL: String
        var authMode: String
        /// `data-page` of the body.
        var page: String
        var icon = WebAssets.icon.versionedPath
        var stylesheet = WebAssets.stylesheet.versionedPath
        var script = WebAssets.script.versionedPath
    }

    /// What a template renders: the frame and its page. Names are unique across both, since a
    /// name that is nil in the page would otherwise be looked up in the frame.
    struct Rendered<Page> {
        let frame: Frame
        let page: Page
    }

    static let templateFiles: [(String, [UInt8])] = [
        ("frame", PackageResources.frame_mustache),
        ("landing", PackageResources.landing_mustache),
        ("shell", PackageResources.shell_mustache),
        ("sign-in", PackageResources.sign_in_mustache),
        ("consent", PackageResources.consent_mustache),
        ("device-code", PackageResources.device_code_mustache),
        ("device-approval", PackageResources.device_approval_mustache),
        ("message", PackageResources.message_mustache),
        ("alert", PackageResources.alert_mustache),
        ("sign-in-controls", PackageResources.sign_in_controls_mustache),
        ("client-statement", PackageResources.client_statement_mustache),
    ]

    package static var templateNames: [String] { templateFiles.map(\.0) }

    /// Parsed once. The templates are part of the binary, so one that does not parse is a
    /// programming error that the first test run reports.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, bytes) in templateFiles {
            do {
                try library.register(String(decoding: bytes, as: UTF8.self), named: name)
            } catch {
                preconditionFailure("template \(name).mustache does not parse: \(error)")
            }
        }
        return library
    }()

    /// The HTML of `template` with `page` in `frame`.
    static func html<Page>(_ template: String, _ page: Page, frame: Frame) -> String {
        guard let html = library.render(Rendered(frame: frame, page: page), withTemplate: template) else {
            preconditionFailure("no template named \(template)")
        }
        return html
    }

    /// A whole response with the headers every HTML page carries.
    static func response(_ html: String, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
