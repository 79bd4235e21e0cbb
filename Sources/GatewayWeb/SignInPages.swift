import Hummingbird

extension SignInPages.Page {
    /// The page with the strict headers of every sign-in page. `formTargets` are the extra
    /// origins a form submission may end up at (the OAuth redirect), which browsers check
    /// against `form-action` even across redirects; `extraSources` widens single directives
    /// for this page only (a sign-in provider's script, API and frame origins).
    package func response(
        nonProduction: Bool, status: HTTPResponse.Status = .ok, formTargets: [String] = [], extraSources: [String: [String]] = [:]
    ) -> Response {
        ServerPages.response(
            html(nonProduction: nonProduction), status: status,
            headers: SignInPages.securityHeaders(formTargets: formTargets, extraSources: extraSources))
    }

    /// The page's HTML.
    package func html(nonProduction: Bool) -> String {
        ServerPages.html(Self.template, self, frame: .init(title: title, nonProduction: nonProduction))
    }
}

/// The pages of the sign-in flow (`/oauth/authorize`, `/oauth/consent`, `/device` and what a
/// sign-in ends on): their models, headers and stylesheet.
package enum SignInPages {
    /// What one page shows, rendered from its template in the sign-in frame.
    package protocol Page {
        /// Its template in Templates/.
        static var template: String { get }
        var title: String { get }
    }

    /// What a connector asks the person for, and the button that submits it.
    package struct Controls {
        let fields: [Field]
        let script: Script?
        /// Nil when a script submits the form by itself.
        let allowLabel: String?
        /// The line under the form.
        let notice: String?

        package init(fields: [Field] = [], script: Script? = nil, allowLabel: String?, notice: String? = nil) {
            self.fields = fields
            self.script = script
            self.allowLabel = allowLabel
            self.notice = notice
        }
    }

    package struct Field {
        let name: String
        let label: String
        /// The input's `type`.
        let type: String
        let maxLength: Int?
        let autocomplete: String
        let autofocus: Bool

        package init(name: String, label: String, type: String, maxLength: Int?, autocomplete: String, autofocus: Bool) {
            self.name = name
            self.label = label
            self.type = type
            self.maxLength = maxLength
            self.autocomplete = autocomplete
            self.autofocus = autofocus
        }
    }

    /// A connector's script page: a hidden field its script fills in, the connector's own fixed
    /// markup (never text from a person) and the module that runs it.
    package struct Script {
        let resultField: String
        let markup: String
        let path: String

        package init(resultField: String, markup: String, path: String) {
            self.resultField = resultField
            self.markup = markup
            self.path = path
        }
    }

    /// Who is asking for access.
    package struct ClientStatement {
        let name: String
        /// The gateway's public base URL.
        let base: String
        let thirdParty: ThirdParty?

        package init(name: String, base: String, thirdParty: ThirdParty?) {
            self.name = name
            self.base = base
            self.thirdParty = thirdParty
        }
    }

    /// A third-party client: its name is its own claim, so the page says where it comes from
    /// and where the browser goes next (the one fact the gateway checks).
    package struct ThirdParty {
        /// Its client metadata document's URL; nil for a registered client.
        let describedBy: String?
        /// The reverse-domain scheme of an app redirect; nil for a web redirect.
        let appScheme: String?
        /// A web redirect's host as shown (ASCII).
        let host: String?
        let internationalized: Bool

        package init(describedBy: String?, appScheme: String?, host: String?, internationalized: Bool) {
            self.describedBy = describedBy
            self.appScheme = appScheme
            self.host = host
            self.internationalized = internationalized
        }
    }

    /// `/oauth/authorize` with a form connector.
    package struct SignIn: Page {
        package static let template = "sign-in"
        package var title: String { "Sign in" }
        let requestID: String
        let csrf: String
        let client: ClientStatement
        let error: String?
        let controls: Controls

        package init(requestID: String, csrf: String, client: ClientStatement, error: String?, controls: Controls) {
            self.requestID = requestID
            self.csrf = csrf
            self.client = client
            self.error = error
            self.controls = controls
        }
    }

    /// A third-party client's request after an identity provider signed the person in.
    package struct Consent: Page {
        package static let template = "consent"
        package var title: String { "Allow access?" }
        let userName: String
        let requestID: String
        let csrf: String
        let client: ClientStatement

        package init(userName: String, requestID: String, csrf: String, client: ClientStatement) {
            self.userName = userName
            self.requestID = requestID
            self.csrf = csrf
            self.client = client
        }
    }

    /// `/device`, step one: the code shown in the terminal.
    package struct DeviceCode: Page {
        package static let template = "device-code"
        package var title: String { "Connect a device" }
        let base: String
        let csrf: String
        let userCode: String
        let error: String?

        package init(base: String, csrf: String, userCode: String, error: String?) {
            self.base = base
            self.csrf = csrf
            self.userCode = userCode
            self.error = error
        }
    }

    /// `/device`, step two: which application asked, when, and the sign-in that approves it.
    package struct DeviceApproval: Page {
        package static let template = "device-approval"
        package var title: String { "Connect a device" }
        let clientName: String
        let requestedAt: RequestedAt?
        let base: String
        /// The code as the gateway knows it, which the terminal shows.
        let shownCode: String
        /// The code as the person entered it.
        let userCode: String
        let csrf: String
        let error: String?
        let controls: Controls

        package init(
            clientName: String, requestedAt: RequestedAt?, base: String, shownCode: String, userCode: String, csrf: String,
            error: String?, controls: Controls
        ) {
            self.clientName = clientName
            self.requestedAt = requestedAt
            self.base = base
            self.shownCode = shownCode
            self.userCode = userCode
            self.csrf = csrf
            self.error = error
            self.controls = controls
        }
    }

    package struct RequestedAt {
        /// RFC 3339.
        let timestamp: String
        /// "3 minutes ago".
        let ago: String

        package init(timestamp: String, ago: String) {
            self.timestamp = timestamp
            self.ago = ago
        }
    }

    /// A heading and what it means: where a sign-in ends, or why it cannot go on.
    package struct Message: Page {
        package static let template = "message"
        package var title: String { heading }
        let heading: String
        let paragraphs: [String]

        package init(_ heading: String, _ paragraphs: String...) {
            self.heading = heading
            self.paragraphs = paragraphs
        }
    }

    /// The strict policy of every sign-in page (no script unless a connector's page brings one);
    /// `extraSources` widens single directives for one page only.
    static func securityHeaders(formTargets: [String] = [], extraSources: [String: [String]] = [:]) -> HTTPFields {
        var directives: [(String, [String])] = [
            ("default-src", ["'none'"]), ("style-src", ["'self'"]), ("img-src", ["'self'"]),
            ("form-action", ["'self'"] + formTargets), ("frame-ancestors", ["'none'"]), ("base-uri", ["'none'"]),
        ]
        directives += extraSources.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }.map { ($0.key, $0.value) }
        return PageSecurity.headers(contentSecurityPolicy: PageSecurity.policy(directives), cacheControl: "no-store")
    }

    /// The sign-in pages' stylesheet (Assets/sign-in.css), at `/assets/gateway.css`.
    package static func registerAssets<Context: RequestContext>(on router: Router<Context>) {
        router.get("/assets/gateway.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.sign_in_css)))
        }
    }
}
