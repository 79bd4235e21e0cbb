import ArgumentParser
import Foundation
import GatewayAgentBackends
import GatewayClient
import GatewayProtocol
import NIOConcurrencyHelpers
import UnixSignals

struct Host: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register this machine as a device and host agents until SIGINT/SIGTERM.",
        discussion: """
            Agents (repeat --agent for several):
              --agent NAME                 the default backend: echo, or what --command / --model set
              --agent NAME=echo            answers with the message's own text
              --agent NAME=command:CMD     runs `sh -c CMD` per message: the text on stdin, the reply is its stdout
              --agent NAME=openai:MODEL    streams from an OpenAI-compatible endpoint (--openai-base-url)
            Without --agent: one agent named echo (or command / assistant with --command / --model).
            Prints a line containing "connected" once the device stream is open; reconnects by itself.
            """)

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("An agent to host (repeatable); see below.", valueName: "spec"))
    var agent: [String] = []

    @Option(name: .long, help: "The command plain --agent NAME runs (one process per message, text on stdin, reply from stdout).")
    var command: String?

    @Option(name: .long, help: "The model plain --agent NAME (or NAME=openai) uses.")
    var model: String?

    @Option(name: .long, help: "Base URL of the OpenAI-compatible API (its /chat/completions is called).")
    var openaiBaseURL = "http://127.0.0.1:11434/v1"

    @Option(name: .long, help: "Name of an environment variable holding the API key (sent as a bearer token).")
    var apiKeyEnv: String?

    @Option(name: .long, help: "A system prompt for OpenAI-compatible agents.")
    var systemPrompt: String?

    @Option(name: .long, help: "The device's name in device lists (default: the host name).")
    var deviceName: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        do {
            _ = try AgentSpec.parseAll(agent, command: command, model: model)
        } catch let error as GatewayClientError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let specs = try AgentSpec.parseAll(agent, command: command, model: model)
            let agents = try specs.map(hostedAgent)
            let api = try common.api()
            let directory = common.directory
            let status = HostStatusDisplay(gateway: api.baseURL, live: Terminal.isTTY)
            let host = DeviceHost(
                api: api, directory: directory, deviceID: try directory.deviceID(),
                deviceName: deviceName ?? DeviceIdentity.hostName, agents: agents, report: { status.show($0) })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await host.run() }
                group.addTask {
                    for await signal in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                        status.stopping(signal: "\(signal)")
                        // Whatever is still closing gets three seconds.
                        Task.detached {
                            try? await Task.sleep(for: .seconds(3))
                            Foundation.exit(0)
                        }
                        return
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }

    private func hostedAgent(_ spec: AgentSpec) throws -> DeviceHost.HostedAgent {
        switch spec.backend {
        case .echo:
            return .init(key: spec.key, name: spec.key, description: "Echoes every message back (gatewayctl).", backend: EchoBackend())
        case .command(let command):
            return .init(
                key: spec.key, name: spec.key, description: "A local command hosted by gatewayctl.",
                backend: CommandBackend(command: command))
        case .openai(let model):
            var apiKey: String?
            if let apiKeyEnv {
                guard let value = ProcessInfo.processInfo.environment[apiKeyEnv], !value.isEmpty else {
                    throw GatewayClientError.usage("--api-key-env \(apiKeyEnv): that environment variable is not set")
                }
                apiKey = value
            }
            return .init(
                key: spec.key, name: spec.key, description: "\(model) through an OpenAI-compatible API, hosted by gatewayctl.",
                backend: OpenAIBackend(baseURL: openaiBaseURL, model: model, apiKey: apiKey, systemPrompt: systemPrompt))
        }
    }
}

/// The host's terminal output: one line per happening, and on a terminal a status line kept at
/// the bottom (connection, open sessions, messages answered).
final class HostStatusDisplay: Sendable {
    let gateway: String
    let live: Bool
    private struct State {
        var connection = "starting"
        var device = ""
        var agents: [String] = []
        var sessions = Set<String>()
        var messages = 0
    }
    private let state = NIOLockedValueBox(State())

    init(gateway: String, live: Bool) {
        self.gateway = gateway
        self.live = live
    }

    func show(_ status: DeviceHost.Status) {
        var message: String?
        state.withLockedValue { state in
            switch status {
            case .registered(let deviceID, let agents):
                state.device = deviceID
                state.agents = agents.map(\.key)
                message =
                    "device \(deviceID) registered at \(gateway); agents: \(agents.map { "\($0.key) (id \($0.id))" }.joined(separator: ", "))"
            case .connected:
                state.connection = "connected"
                message = "connected: device \(state.device) is online, hosting \(state.agents.joined(separator: ", "))"
            case .reconnecting(let reason, let retryIn):
                state.connection = "reconnecting"
                message =
                    retryIn < .seconds(1)
                    ? "\(reason); reconnecting now"
                    : "connection lost (\(reason)); reconnecting in \(Int((retryIn / .seconds(1)).rounded(.up)))s"
            case .reset(let reason):
                message = "the device stream was reset (\(reason)): taking waiting messages from the gateway's list instead"
            case .unansweredListFailed(let error):
                message = "could not list unanswered messages (\(error)); trying again on the next connect"
            case .sessionOpened(let sessionID, let agent, let user):
                state.sessions.insert(sessionID)
                message = "session \(sessionID) opened by \(user) with \(agent)"
            case .messageReceived(let sessionID, let agent, let user):
                state.sessions.insert(sessionID)
                message = "message from \(user) to \(agent) (session \(sessionID))"
            case .replied(let sessionID, let agent, let characters, let duration):
                state.messages += 1
                message = "\(agent) replied in session \(sessionID): \(characters) characters in \(Self.seconds(duration))"
            case .replyStopped(let sessionID, let agent, let characters):
                state.messages += 1
                message = "\(agent) stopped in session \(sessionID) at the user's request after \(characters) characters"
            case .replyFailed(let sessionID, let agent, let error):
                message = "\(agent) could not reply in session \(sessionID): \(error)"
            case .sessionClosed(let sessionID, let reason):
                state.sessions.remove(sessionID)
                message = "session \(sessionID) ended (\(reason))"
            case .shareRevoked(let shareID, let sessions):
                message = "share \(shareID) was revoked; \(sessions) session\(sessions == 1 ? "" : "s") ended"
            case .agentUnpublished(let key):
                message = "agent \(key) was unpublished at the gateway; restart gatewayctl host to publish it again"
            }
        }
        if let message { emit(message) }
    }

    func stopping(signal: String) {
        emit("stopping (\(signal))")
    }

    private func emit(_ message: String) {
        guard live else { return Terminal.line(message) }
        let summary = state.withLockedValue { state in
            "[\(state.connection)] \(state.device)  agents: \(state.agents.joined(separator: ","))  sessions: \(state.sessions.count)  replies: \(state.messages)"
        }
        Terminal.redrawStatus(message: message, status: summary)
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.2fs", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
