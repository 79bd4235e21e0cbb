import ArgumentParser
import GatewayClient
import GatewayProtocol

@main
struct GatewayCtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayctl",
        abstract: "Reference desktop-side client of the agent gateway: sign in, host agents, share, chat, revoke.",
        discussion: """
            Exit statuses: 0 ok, 1 failure, 64 usage, 3 not signed in (run gatewayctl login <url>), \
            4 gateway unreachable, 5 share revoked or invite no longer valid, 6 not found. See docs/gatewayctl.md.
            """,
        version: GatewayClientVersion.current,
        subcommands: [
            Login.self, Logout.self, Whoami.self, Host.self, Share.self, Shares.self, Revoke.self, Accept.self, Agents.self,
            Devices.self, Chat.self, APIKeys.self,
        ])

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
