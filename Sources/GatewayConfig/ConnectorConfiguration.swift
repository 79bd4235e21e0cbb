/// What a sign-in connector brings to the configuration: the `AUTH_MODE` value that selects it,
/// the variables it reads, and how they become its settings. Each connector module declares
/// one; the gateway's connector table hands them all to `GatewayConfiguration.load`, so the
/// configuration module knows no connector by name.
package struct ConnectorConfiguration: Sendable {
    package let mode: AuthMode
    /// Every variable the connector reads, in the order docs list them.
    package let variables: [ConfigurationVariable]
    /// REFRESH_TOKEN_TTL when unset.
    package let defaultRefreshTokenTTL: Duration
    /// Reads the variables when `AUTH_MODE` is this mode. Problems go to the reader, so they are
    /// reported with every other one; the settings are nil then.
    package let read: @Sendable (inout ConfigurationReader) -> (any Sendable)?

    package init(
        mode: AuthMode, variables: [ConfigurationVariable], defaultRefreshTokenTTL: Duration = .seconds(30 * 24 * 3600),
        read: @escaping @Sendable (inout ConfigurationReader) -> (any Sendable)?
    ) {
        self.mode = mode
        self.variables = variables
        self.defaultRefreshTokenTTL = defaultRefreshTokenTTL
        self.read = read
    }
}
