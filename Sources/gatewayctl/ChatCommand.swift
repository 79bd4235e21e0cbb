import ArgumentParser
import Foundation
import GatewayClient
import GatewayProtocol
import NIOConcurrencyHelpers

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with an agent: each line of stdin is a message; replies stream as they arrive.",
        discussion: """
            Works with a terminal or a pipe (echo hello | gatewayctl chat echo). Each message waits for its \
            reply before the next line is sent; the chat ends at end of input (Ctrl-D), when the share is \
            revoked (exit 5) or when the session is closed. With --json every event is one JSON line.
            """)

    @Argument(help: "The agent: its name, key or id (see gatewayctl agents).")
    var agent: String

    @Option(name: .long, help: "Give up when a reply takes longer than this many seconds (default: wait).")
    var replyTimeout: Int?

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONFlag

    func run() async throws {
        try await runReportingErrors {
            let client = ChatClient(api: try common.api(), replyTimeout: replyTimeout.map { .seconds($0) })
            let printer = ChatPrinter(json: output.json, echoInput: !Terminal.isTTY || isatty(STDIN_FILENO) != 1)
            let ending = try await client.run(agent: agent, lines: standardInputLines()) { printer.show($0) }
            switch ending {
            case .inputEnded: return
            case .shareRevoked: throw ExitCode(ExitStatus.accessGone)
            case .sessionClosed, .replyTimedOut: throw ExitCode(ExitStatus.failure)
            }
        }
    }
}

/// Shows a chat: text for people (reply pieces as they arrive), or one JSON object per line.
final class ChatPrinter: Sendable {
    let json: Bool
    let echoInput: Bool
    private let streamed = NIOLockedValueBox<[String: String]>([:])
    private let agentName = NIOLockedValueBox("agent")
    /// Notices that arrived while a reply was streaming: printed once it ends, so they never
    /// split the reply's line.
    private let heldNotices = NIOLockedValueBox<[String]>([])

    /// Prints a notice now, or after the reply being streamed.
    private func notice(_ text: String) {
        let held = streamed.withLockedValue { !$0.isEmpty }
        if held { heldNotices.withLockedValue { $0.append(text) } } else { Terminal.line(text) }
    }

    /// Ends a streamed reply's line, then prints what was held back meanwhile.
    private func endReplyLine(_ needsNewline: Bool) {
        if needsNewline { Terminal.write("\n") }
        guard streamed.withLockedValue({ $0.isEmpty }) else { return }
        for text in heldNotices.withLockedValue({ notices in
            defer { notices = [] }
            return notices
        }) { Terminal.line(text) }
    }

    /// A notice that cannot wait for the reply to finish (the chat ends, or the host went away
    /// while writing it): breaks an unfinished reply line first. An interrupted reply is shown
    /// again, whole, when it comes.
    private func interruptingNotice(_ text: String) {
        let unfinished = streamed.withLockedValue { values in
            defer { values = [:] }
            return values.values.contains { !$0.hasSuffix("\n") }
        }
        endReplyLine(unfinished)
        Terminal.line(text)
    }

    init(json: Bool, echoInput: Bool) {
        self.json = json
        self.echoInput = echoInput
    }

    func show(_ output: ChatClient.Output) {
        if json { return showJSON(output) }
        switch output {
        case .opened(let session, let agent):
            agentName.withLockedValue { $0 = agent.name }
            let owner = agent.access == .owner ? "your agent" : "shared by \(agent.ownerName)"
            Terminal.line("Chatting with \(agent.name) (\(owner)); host \(session.hostOnline ? "online" : "offline"). End with Ctrl-D.")
        case .sent(let message, _, let queued):
            if echoInput { Terminal.line("you: \(message.text)") }
            if queued { Terminal.line("(host offline: the message waits until it is back)") }
        case .started(let replyTo, let attempt):
            if attempt > 1 { interruptingNotice("(the host answers again from the start)") }
            // The agent's name at once: the reply is on its way.
            let fresh = streamed.withLockedValue { values in
                defer { values[replyTo] = values[replyTo] ?? "" }
                return values[replyTo] == nil
            }
            if fresh { Terminal.write("\(agentName.withLockedValue { $0 }): ") }
        case .interrupted:
            interruptingNotice("(the host went offline in the middle of this reply; it answers again when it is back)")
        case .delta(let replyTo, _, let text):
            var first = false
            streamed.withLockedValue { values in
                first = values[replyTo] == nil
                values[replyTo, default: ""] += text
            }
            Terminal.write((first ? "\(agentName.withLockedValue { $0 }): " : "") + text)
        case .done(let message):
            let already = streamed.withLockedValue { $0.removeValue(forKey: message.replyTo ?? "") }
            if let already {
                // The final text is what was streamed, without trailing newlines (the host drops
                // them); what else is missing (pieces lost with a stream reset) comes from `done`.
                var written = already
                while written.last?.isNewline == true { written.removeLast() }
                let base = message.text.hasPrefix(already) ? already : written
                if message.text.hasPrefix(base) {
                    let rest = String(message.text.dropFirst(base.count))
                    Terminal.write(rest)
                    endReplyLine(!(already + rest).hasSuffix("\n"))
                } else {
                    // Pieces went missing in between: the complete reply, on its own line.
                    if !already.hasSuffix("\n") { Terminal.write("\n") }
                    Terminal.line("\(agentName.withLockedValue { $0 }): \(message.text)")
                    endReplyLine(false)
                }
            } else {
                Terminal.line("\(agentName.withLockedValue { $0 }): \(message.text)")
            }
        case .replyError(let replyTo, let error):
            endReplyLine(streamed.withLockedValue({ $0.removeValue(forKey: replyTo) }) != nil)
            Terminal.line("(the agent could not answer: \(error))")
        case .hostStatus(let online):
            // A reply it was writing is cut off with its own `interrupted` notice.
            notice(online ? "(host is back online)" : "(host went offline: messages wait until it is back)")
        case .connected:
            break
        case .reconnecting(let reason, let retryIn):
            notice("(connection lost: \(reason); reconnecting in \(Int((retryIn / .seconds(1)).rounded(.up)))s)")
        case .reset:
            notice("(some events were lost while away; the chat continues)")
        case .shareRevoked:
            interruptingNotice("share revoked: the owner revoked your access to \(agentName.withLockedValue { $0 }); this chat has ended")
        case .sessionClosed(let reason):
            interruptingNotice("session closed (\(reason.replacingOccurrences(of: "_", with: " ")))")
        case .replyTimedOut:
            interruptingNotice("(no reply in time; giving up)")
        }
    }

    private func showJSON(_ output: ChatClient.Output) {
        var object: [String: Any]
        switch output {
        case .opened(let session, let agent):
            object = [
                "type": "session.opened", "session_id": session.id, "agent_id": agent.id, "agent_name": agent.name,
                "host_online": session.hostOnline,
            ]
        case .sent(let message, let hostOnline, let queued):
            object = ["type": "message.sent", "message_id": message.id, "text": message.text, "host_online": hostOnline, "queued": queued]
        case .started(let replyTo, let attempt):
            object = ["type": "reply.started", "reply_to": replyTo, "attempt": attempt]
        case .delta(let replyTo, let index, let text):
            object = ["type": "reply.delta", "reply_to": replyTo, "index": index, "text": text]
        case .interrupted(let replyTo, let attempt):
            object = ["type": "reply.interrupted", "reply_to": replyTo, "attempt": attempt]
        case .done(let message):
            object = ["type": "reply.done", "reply_to": message.replyTo ?? "", "message_id": message.id, "text": message.text]
        case .replyError(let replyTo, let error):
            object = ["type": "reply.error", "reply_to": replyTo, "error": error]
        case .hostStatus(let online):
            object = ["type": "host.status", "online": online]
        case .connected:
            object = ["type": "stream.connected"]
        case .reconnecting(let reason, let retryIn):
            object = ["type": "stream.reconnecting", "reason": reason, "retry_in_ms": Int(retryIn / .milliseconds(1))]
        case .reset(let reason):
            object = ["type": "reset", "reason": reason]
        case .shareRevoked:
            object = ["type": "share.revoked"]
        case .sessionClosed(let reason):
            object = ["type": "session.closed", "reason": reason]
        case .replyTimedOut(let messageID):
            object = ["type": "reply.timeout", "message_id": messageID]
        }
        Terminal.json(object: object, compact: true)
    }
}
