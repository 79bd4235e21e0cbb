import Foundation
import GatewayClient

/// Which backend answers for a hosted agent.
package enum BackendSpec: Equatable, Sendable {
    case echo
    /// A shell command run once per message (see ``CommandBackend``).
    case command(String)
    /// An OpenAI-compatible model; the base URL and API key come from the host's options.
    case openai(model: String)
}

/// One `--agent` of `gatewayctl host`:
///
/// - `NAME`: the default backend (echo, or the one `--command` / `--model` sets);
/// - `NAME=echo`;
/// - `NAME=command:CMD` (CMD runs with `/bin/sh -c`);
/// - `NAME=openai:MODEL`, or `NAME=openai` with `--model`.
///
/// NAME is the agent's key on this device: 1-64 ASCII letters, digits, `-` or `_`.
package struct AgentSpec: Equatable, Sendable {
    package var key: String
    package var backend: BackendSpec

    package init(key: String, backend: BackendSpec) {
        self.key = key
        self.backend = backend
    }

    /// The backend a plain `--agent NAME` gets from the host's other options.
    package static func defaultBackend(command: String?, model: String?) throws -> BackendSpec {
        switch (command, model) {
        case (nil, nil): return .echo
        case (let command?, nil): return .command(command)
        case (nil, let model?): return .openai(model: model)
        case (.some, .some):
            throw GatewayClientError.usage(
                "--command and --model both set: say which agent uses which, e.g. --agent a=command:CMD --agent b=openai:MODEL")
        }
    }

    package static func parse(_ text: String, defaultBackend: BackendSpec, model: String?) throws -> AgentSpec {
        guard let equals = text.firstIndex(of: "=") else {
            return try AgentSpec(key: validKey(text), backend: defaultBackend)
        }
        let key = try validKey(String(text[..<equals]))
        let rest = String(text[text.index(after: equals)...])
        let (kind, argument): (String, String?) = {
            guard let colon = rest.firstIndex(of: ":") else { return (rest, nil) }
            return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
        }()
        switch kind {
        case "echo" where argument == nil:
            return AgentSpec(key: key, backend: .echo)
        case "command":
            guard let argument, !argument.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw GatewayClientError.usage("--agent \(text): say which command, e.g. \(key)=command:'my-agent --reply'")
            }
            return AgentSpec(key: key, backend: .command(argument))
        case "openai":
            guard let model = argument.flatMap({ $0.isEmpty ? nil : $0 }) ?? model else {
                throw GatewayClientError.usage("--agent \(text): say which model, e.g. \(key)=openai:llama3.2, or pass --model")
            }
            return AgentSpec(key: key, backend: .openai(model: model))
        default:
            throw GatewayClientError.usage(
                "--agent \(text): unknown backend \"\(kind)\"; use NAME, NAME=echo, NAME=command:CMD or NAME=openai:MODEL")
        }
    }

    /// All `--agent` values; with none, one agent named after the default backend.
    package static func parseAll(_ texts: [String], command: String?, model: String?) throws -> [AgentSpec] {
        let explicit = !texts.isEmpty && texts.allSatisfy { $0.contains("=") }
        let fallback: BackendSpec = explicit ? .echo : try defaultBackend(command: command, model: model)
        if texts.isEmpty {
            let key: String
            switch fallback {
            case .echo: key = "echo"
            case .command: key = "command"
            case .openai: key = "assistant"
            }
            return [AgentSpec(key: key, backend: fallback)]
        }
        let specs = try texts.map { try parse($0, defaultBackend: fallback, model: model) }
        var seen = Set<String>()
        for spec in specs where !seen.insert(spec.key).inserted {
            throw GatewayClientError.usage("--agent \(spec.key) is given twice")
        }
        return specs
    }

    private static func validKey(_ key: String) throws -> String {
        guard DeviceIdentity.isValidKey(key) else {
            throw GatewayClientError.usage("agent name \"\(key)\" must be 1-64 letters, digits, '-' or '_'")
        }
        return key
    }
}
