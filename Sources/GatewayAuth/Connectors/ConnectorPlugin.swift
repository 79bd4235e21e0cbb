import GatewayConfig
import GatewayProtocol
import Logging

/// A sign-in connector as the running gateway sees it: the connector, and what it brings
/// besides signing people in (work in the background, an identity provider to report on
/// `/readyz`, lines for the start-up log, a callback to register at the provider).
///
/// Each connector module has one `ConnectorDefinition`: its configuration (mode, variables,
/// settings) and its factory, `(GatewayConfiguration, Logger) throws -> ConnectorPlugin`. The
/// gateway's connector table (`Gateway.connectors`) lists them, so neither the configuration nor
/// the application ever asks which connector it runs.
package struct ConnectorPlugin: Sendable {
    package typealias Factory = @Sendable (GatewayConfiguration, Logger) throws -> ConnectorPlugin

    /// Work that runs while the gateway runs and returns when cancelled (at shutdown).
    package struct BackgroundWork: Sendable {
        package let name: String
        package let run: @Sendable () async -> Void

        package init(name: String, run: @escaping @Sendable () async -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// One line of the start-up log.
    package struct Notice: Sendable {
        package let level: Logger.Level
        package let message: String
        /// The log line's `event` and the rest of its metadata.
        package let event: String
        package let metadata: [String: String]

        package init(_ level: Logger.Level, _ message: String, event: String, metadata: [String: String] = [:]) {
            self.level = level
            self.message = message
            self.event = event
            self.metadata = metadata
        }
    }

    package let connector: SignInConnector
    package var background: [BackgroundWork] = []
    /// The identity provider's state for `/readyz` (never a reason to be unready: existing users
    /// keep working while it is unreachable).
    package var providerState: (@Sendable () async -> ReadinessReport.IdentityProvider)? = nil
    package var notices: [Notice] = []
    /// What operators register at their provider as the redirect URI (start-up line, landing page).
    package var callbackURL: String? = nil

    package init(_ connector: SignInConnector) {
        self.connector = connector
    }
}

/// One sign-in connector, as the gateway's connector table lists it.
package struct ConnectorDefinition: Sendable {
    /// Its `AUTH_MODE` value, variables and settings.
    package let configuration: ConnectorConfiguration
    package let make: ConnectorPlugin.Factory

    package init(configuration: ConnectorConfiguration, make: @escaping ConnectorPlugin.Factory) {
        self.configuration = configuration
        self.make = make
    }

    package var mode: AuthMode { configuration.mode }

    /// The connector's settings from a configuration of its mode.
    package static func settings<Settings>(_ type: Settings.Type, in configuration: GatewayConfiguration) throws -> Settings {
        guard let settings = configuration.connectorSettings(type) else { throw MissingConnectorSettings(mode: configuration.authMode) }
        return settings
    }
}

extension DemoConnector {
    /// `AUTH_MODE=demo`.
    package static let definition = ConnectorDefinition(configuration: DemoSettings.configuration, make: plugin)

    static let plugin: ConnectorPlugin.Factory = { configuration, _ in
        let settings = try ConnectorDefinition.settings(DemoSettings.self, in: configuration)
        var plugin = ConnectorPlugin(.form(DemoConnector(settings: settings)))
        plugin.notices = [
            .init(
                .warning, "demo auth mode: anyone can sign in with a display name; not for production", event: "gateway.non_production",
                metadata: ["auth_mode": "demo"])
        ]
        return plugin
    }
}

/// A connector's factory found no settings of its type: the configuration loader reads them in
/// that mode, so this is a gateway built from a configuration made by hand, or a mode missing
/// from the connector table.
package struct MissingConnectorSettings: Error, CustomStringConvertible {
    package let mode: AuthMode

    package init(mode: AuthMode) {
        self.mode = mode
    }

    package var description: String {
        "AUTH_MODE=\(mode.rawValue) has no settings of its connector in the configuration (is it in Gateway.connectors?)"
    }
}
