import ArgumentParser
import Foundation
import GatewayAgentBackends
import GatewayClient
import GatewayProtocol
import NIOConcurrencyHelpers

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in to a gateway (authorization code + PKCE in the browser, or --device-code).",
        discussion: """
            Everything is discovered from the gateway URL. Without --device-code, gatewayctl listens on \
            http://127.0.0.1:<free port>/callback, opens the browser when it can and always prints the \
            sign-in URL. Tokens are stored in the configuration directory (owner-only).
            """)

    @Argument(help: "The gateway URL, e.g. https://gateway.example.com")
    var gatewayURL: String

    @Flag(name: .long, help: "Use the device authorization grant: open a URL on any device and enter the code shown.")
    var deviceCode = false

    @Flag(name: .long, help: "Do not try to open a browser (the URL is printed either way).")
    var noBrowser = false

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await runReportingErrors {
            let directory = common.directory
            try directory.prepare()
            let client = try await OAuthClient.discover(gatewayURL: gatewayURL)
            let credentials: StoredCredentials
            if deviceCode {
                let authorization = try await client.startDeviceAuthorization()
                Terminal.line("To sign in, open \(authorization.verificationURI) and enter the code \(authorization.userCode)")
                Terminal.line("(or open \(authorization.verificationURIComplete))")
                Terminal.line("Waiting for approval…")
                credentials = try await client.pollDeviceAuthorization(authorization)
            } else {
                let request = NIOLockedValueBox<OAuthClient.AuthorizationRequest?>(nil)
                let callback = try await LoopbackRedirectReceiver.receive { redirectURI in
                    let authorization = client.authorizationRequest(redirectURI: redirectURI)
                    request.withLockedValue { $0 = authorization }
                    Terminal.line("Open this URL in a browser to sign in:")
                    Terminal.line("  \(authorization.url)")
                    if !noBrowser { Browser.open(authorization.url) }
                    Terminal.line("Waiting for the browser on \(redirectURI)…")
                }
                guard let authorization = request.withLockedValue({ $0 }) else {
                    throw GatewayClientError.invalidResponse("no sign-in request")
                }
                credentials = try await client.completeAuthorization(authorization, callback: callback)
            }
            // The new sign-in replaces the stored one, which is revoked (best effort) rather than left valid.
            let previous = directory.loadCredentials()
            try directory.saveCredentials(credentials)
            if let previous, previous.refreshToken != credentials.refreshToken { try? await OAuthClient.revoke(previous) }
            let me = try await GatewayAPI(directory: directory).me().value
            Terminal.line(
                "Signed in to \(credentials.gatewayURL) as \(me.displayName)\(me.nonProduction ? " (demo mode: not for production)" : "")")
        }
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke the stored sign-in at the gateway and delete the local tokens.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await runReportingErrors {
            let directory = common.directory
            guard let credentials = directory.loadCredentials() else {
                Terminal.line("Not signed in.")
                return
            }
            var revoked = true
            do {
                try await OAuthClient.revoke(credentials)
            } catch {
                revoked = false
                Terminal.error("could not revoke the sign-in at the gateway (\(error)); the local tokens are deleted anyway")
            }
            directory.deleteCredentials()
            directory.remove("device-stream-position")
            Terminal.line(revoked ? "Signed out of \(credentials.gatewayURL)." : "Deleted the local sign-in for \(credentials.gatewayURL).")
        }
    }
}

struct Whoami: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show who you are signed in as, and where.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let api = try common.api()
            let me = try await api.me()
            if output.json { return Terminal.json(me.raw) }
            Terminal.line("\(me.value.displayName) (\(me.value.id)) on \(api.baseURL)\(me.value.nonProduction ? ", demo mode" : "")")
        }
    }
}

/// Opens a URL in the person's browser when there is one; failure is fine (the URL is printed).
enum Browser {
    static func open(_ url: String) {
        #if os(macOS)
        let opener = "open"
        #else
        let environment = ProcessInfo.processInfo.environment
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else { return }
        let opener = "xdg-open"
        #endif
        guard let process = try? Subprocess(executable: opener, arguments: [url]) else { return }
        process.closeStandardInput()
        Task {
            for await _ in process.standardOutput {}
            for await _ in process.standardError {}
            _ = await process.waitForExit()
        }
    }
}
