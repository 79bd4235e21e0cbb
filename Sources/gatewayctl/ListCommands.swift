import ArgumentParser
import GatewayClient
import GatewayProtocol

struct Agents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List your agents and the agents shared with you.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let agents = try await common.api().agents()
            if output.json { return Terminal.json(agents.raw) }
            if agents.value.isEmpty { return Terminal.line("No agents yet: host one with gatewayctl host --agent NAME") }
            Terminal.table(
                ["KEY", "NAME", "ACCESS", "OWNER", "HOST", "ID"],
                agents.value.map { [$0.key, $0.name, $0.access.rawValue, $0.ownerName, $0.hostOnline ? "online" : "offline", $0.id] })
        }
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List your devices and whether they are online.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let devices = try await common.api().devices()
            if output.json { return Terminal.json(devices.raw) }
            if devices.value.isEmpty { return Terminal.line("No devices yet: gatewayctl host registers this machine") }
            Terminal.table(
                ["ID", "NAME", "PLATFORM", "STATUS", "UPDATED"],
                devices.value.map { [$0.id, $0.name, $0.platform, $0.online ? "online" : "offline", rfc3339($0.updatedAt)] })
        }
    }
}
