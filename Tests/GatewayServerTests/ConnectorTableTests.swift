import Foundation
import GatewayAuth
import GatewayConfig
import GatewayFirebase
import GatewayOIDC
import Logging
import Testing

@testable import GatewayServer

/// The connector table is the one extension point for sign-in connectors: each line brings the
/// connector's mode, variables, settings and factory.
@Suite("Connector table")
struct ConnectorTableTests {
    /// A configuration of each mode, with the least its connector needs.
    static let environments: [AuthMode: [String: String]] = [
        .demo: [:],
        .oidc: ["OIDC_ISSUER_URL": "https://issuer.example", "OIDC_CLIENT_ID": "gateway"],
        .firebase: [
            "FIREBASE_PROJECT_ID": "project-42", "FIREBASE_API_KEY": "AIzaTestKey",
            "FIREBASE_AUTH_DOMAIN": "project-42.firebaseapp.com",
        ],
    ]

    @Test func everyModeHasOneLineAndEveryLineIsTested() {
        let modes = Gateway.connectors.map(\.mode)
        #expect(Set(modes).count == modes.count, "a mode has two lines")
        #expect(Set(modes) == Set(Self.environments.keys))
    }

    /// Each factory makes the connector of its own mode from a configuration of that mode.
    @Test(arguments: Gateway.connectors.map(\.mode.rawValue))
    func eachFactoryMakesItsModesConnector(rawMode: String) throws {
        let mode = AuthMode(rawValue: rawMode)
        var environment = try #require(Self.environments[mode])
        environment["DATABASE_URL"] = "sqlite::memory:"
        environment["AUTH_MODE"] = mode.rawValue
        let configuration = try Gateway.loadConfiguration(mode: .dev, environment: environment)
        #expect(configuration.authMode == mode)
        let plugin = try Gateway.makeConnector(configuration, logger: Logger(label: "test"))
        #expect(plugin.connector.mode == mode)
        #expect(plugin.connector.isNonProduction == (mode == .demo))
        #expect((plugin.callbackURL != nil) == (mode == .oidc))
        #expect((plugin.providerState != nil) == (mode == .oidc))
    }

    /// A connector's variables are its own: required ones name its mode, and no name is used twice.
    @Test func eachConnectorDeclaresItsOwnVariables() {
        for definition in Gateway.connectors {
            for variable in definition.configuration.variables {
                if case .requiredWithAuthMode(let mode) = variable.requirement {
                    #expect(mode == definition.mode, "\(variable.name)")
                }
            }
        }
        let names = Gateway.configurationVariables.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func eachConnectorRequiresItsSetOnlyInItsMode() {
        func problems(_ environment: [String: String]) -> Set<String> {
            do {
                _ = try Gateway.loadConfiguration(mode: .dev, environment: environment)
                return []
            } catch { return Set(error.problems.map(\.variable)) }
        }
        #expect(problems(["AUTH_MODE": "firebase"]) == ["FIREBASE_PROJECT_ID", "FIREBASE_API_KEY", "FIREBASE_AUTH_DOMAIN"])
        #expect(problems(["AUTH_MODE": "oidc"]) == ["OIDC_ISSUER_URL", "OIDC_CLIENT_ID"], "without a secret it is a public client")
        #expect(problems(["AUTH_MODE": "demo", "OIDC_ISSUER_URL": "not a url"]).isEmpty, "another mode's variables are not read")
        #expect(problems(["DEMO_SIGNIN_ENABLED": "maybe"]) == ["DEMO_SIGNIN_ENABLED"])
        #expect(problems(["AUTH_MODE": "saml"]) == ["AUTH_MODE"])
    }

    @Test func demoRefreshTokensLiveADayOthersThirtyDays() throws {
        let demo = try Gateway.loadConfiguration(mode: .dev, environment: [:])
        #expect(demo.auth.refreshTokenTTL == .seconds(24 * 3600))
        var environment = try #require(Self.environments[.oidc])
        environment["AUTH_MODE"] = "oidc"
        #expect(try Gateway.loadConfiguration(mode: .dev, environment: environment).auth.refreshTokenTTL == .seconds(30 * 86400))
    }

    /// Every variable the gateway reads is in the README's table, and the table names no
    /// variable the gateway does not read.
    @Test func readmeConfigurationTableListsExactlyTheVariables() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Configuration").dropFirst().first)
            .components(separatedBy: "\n## ").first!
        let documented = Set(
            section.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `") else { return nil }
                return line.dropFirst(3).split(separator: "`").first.map(String.init)
            })
        #expect(documented == Set(Gateway.configurationVariables.map(\.name)))
    }
}
