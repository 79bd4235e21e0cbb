import GatewayConfig

/// `AUTH_MODE=demo`'s settings and variables.
package struct DemoSettings: Sendable, Equatable {
    package var signInEnabled: Bool
    package var passcode: String?

    package init(signInEnabled: Bool = true, passcode: String? = nil) {
        self.signInEnabled = signInEnabled
        self.passcode = passcode
    }

    /// Demo sign-ins are for trying the gateway out: their refresh tokens live a day.
    package static let configuration = ConnectorConfiguration(
        mode: .demo, variables: [.demoSignInEnabled, .demoPasscode], defaultRefreshTokenTTL: .seconds(24 * 3600)
    ) { reader in
        DemoSettings(signInEnabled: reader.boolean(.demoSignInEnabled) ?? true, passcode: reader.value(.demoPasscode))
    }
}

extension ConfigurationVariable {
    package static let demoSignInEnabled = ConfigurationVariable(
        "DEMO_SIGNIN_ENABLED", .optional, default: "true", example: "false",
        "Set to false to turn demo sign-in off without redeploying code.")
    package static let demoPasscode = ConfigurationVariable(
        "DEMO_PASSCODE", .optional, example: "a shared phrase", secret: true,
        "When set, demo sign-in also asks for this passcode.")
}
