import ArgumentParser
import Foundation
import GatewayClient
import GatewayProtocol

struct Share: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an invite to one of your agents and print its URL.")

    @Argument(help: "The agent: its key (the --agent NAME it is hosted as), name or id.")
    var agent: String

    @Option(name: .long, help: "Expiry, e.g. 30m, 12h, 7d, or seconds (60s to 365d). Never when absent.")
    var expiresIn: String?

    @Option(name: .long, help: "How many people may accept it (1-10000). Unlimited when absent.")
    var maxUses: Int?

    @Option(name: .long, help: "A note for yourself, e.g. who it is for.")
    var label: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Print the invite's QR code below the URL, to scan with a phone (default: when stdout is a terminal, without --json).")
    var qr: Bool?

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let seconds = try expiresIn.map(DurationText.seconds)
            let api = try common.api()
            let agent = try await api.findAgent(agent, access: .owner)
            let created = try await api.createShare(
                agentID: agent.id, body: ShareBody(label: label, expiresIn: seconds, maxUses: maxUses))
            // Scripts read the URL line or the JSON: they get a QR code only when they ask for one.
            let showQR = qr ?? (Terminal.isTTY && !output.json)
            if output.json {
                // The share's own fields, plus the invite code and URL (shown only now).
                let object = (try? JSONSerialization.jsonObject(with: created.raw)) as? [String: Any] ?? [:]
                var flattened = object["share"] as? [String: Any] ?? [:]
                flattened["code"] = created.value.code
                flattened["invite_url"] = created.value.inviteURL
                Terminal.json(object: flattened)
                // stdout stays one JSON document.
                if showQR { Terminal.qrCode(of: created.value.inviteURL, toStandardError: true) }
                return
            }
            Terminal.line(created.value.inviteURL)
            let drawn = showQR ? Terminal.qrCode(of: created.value.inviteURL) : false
            if Terminal.isTTY {
                var details = ["share \(created.value.share.id) for \(agent.name)"]
                if let expires = created.value.share.expiresAt { details.append("expires \(expires)") }
                if let uses = created.value.share.maxUses { details.append("at most \(uses) use\(uses == 1 ? "" : "s")") }
                Terminal.line(details.joined(separator: ", "))
                Terminal.line(
                    "Send the URL to your guest\(drawn ? " or let them scan the code" : "");"
                        + " they open it in a browser or run: gatewayctl accept <url>")
            }
        }
    }
}

struct Shares: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the shares you created (or, with --incoming, accepted).")

    @Flag(name: .long, help: "List the shares you accepted from others.")
    var incoming = false

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let api = try common.api()
            let shares = incoming ? try await api.incomingShares() : try await api.shares()
            if output.json { return Terminal.json(shares.raw) }
            if shares.value.isEmpty { return Terminal.line(incoming ? "No shares accepted." : "No shares yet: gatewayctl share <agent>") }
            Terminal.table(
                ["ID", "AGENT", "STATUS", "USES", "EXPIRES", "GUESTS"],
                shares.value.map { share in
                    [
                        share.id, share.agentName, share.status.rawValue, "\(share.useCount)\(share.maxUses.map { "/\($0)" } ?? "")",
                        share.expiresAt.map(rfc3339) ?? "never", (share.guests ?? []).map(\.displayName).joined(separator: ","),
                    ]
                })
        }
    }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a share: its guests lose access at once and their open chats end.")

    @Argument(help: "The share id (see gatewayctl shares).")
    var shareID: String

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let revoked = try await common.api().revokeShare(id: shareID)
            if output.json { return Terminal.json(revoked.raw) }
            Terminal.line("Revoked share \(revoked.value.id) of \(revoked.value.agentName).")
        }
    }
}

struct Accept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accept an invite: the agent becomes usable with gatewayctl chat.")

    @Argument(help: "The invite URL (…/invite/<code>) or just its code.")
    var invite: String

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let api = try common.api()
            let code = try InviteCode.parse(invite)
            let accepted = try await api.acceptInvite(code: code)
            if output.json { return Terminal.json(accepted.raw) }
            let agent = accepted.value.agent
            Terminal.line(
                "\(accepted.value.newlyAccepted ? "Accepted" : "Already accepted"): \(agent.name) from \(agent.ownerName)"
                    + " (host \(agent.hostOnline ? "online" : "offline")). Chat with: gatewayctl chat \(agent.name)")
        }
    }
}
