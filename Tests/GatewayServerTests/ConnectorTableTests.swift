import GatewayAuth
import GatewayConfig
import Logging
import Testing

@testable import GatewayServer

/// The connector table is the application's one extension point for sign-in connectors.
@Suite("Connector table")
struct ConnectorTableTests {
    @Test func everyAuthModeHasItsConnector() {
        #expect(Set(Gateway.connectors.keys) == Set(AuthMode.allCases))
    }

    /// Each factory makes the connector of its own mode from a configuration of that mode.
    @Test(arguments: AuthMode.allCases)
    func eachFactoryMakesItsModesConnector(mode: AuthMode) throws {
        var environment = ["DATABASE_URL": "sqlite::memory:", "AUTH_MODE": mode.rawValue]
        switch mode {
        case .demo: break
        case .oidc:
            environment["OIDC_ISSUER_URL"] = "https://issuer.example"
            environment["OIDC_CLIENT_ID"] = "gateway"
        case .firebase:
            environment["FIREBASE_PROJECT_ID"] = "project-42"
            environment["FIREBASE_API_KEY"] = "AIzaTestKey"
            environment["FIREBASE_AUTH_DOMAIN"] = "project-42.firebaseapp.com"
        }
        let configuration = try GatewayConfiguration.load(mode: .dev, environment: environment)
        let plugin = try Gateway.makeConnector(configuration, logger: Logger(label: "test"))
        #expect(plugin.connector.mode == mode)
        #expect(plugin.connector.isNonProduction == (mode == .demo))
        #expect((plugin.callbackURL != nil) == (mode == .oidc))
        #expect((plugin.providerState != nil) == (mode == .oidc))
    }
}
