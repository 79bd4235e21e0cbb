import ArgumentParser
import GatewayClient

@main
struct GatewayCtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayctl",
        abstract: "Reference desktop-side client of the agent gateway: sign in, host agents, share, chat, revoke.",
        version: GatewayClientVersion.current)
}
