import ArgumentParser
import Foundation
import GatewayClient
import GatewayProtocol

/// `gatewayctl api-key create|list|revoke`: personal API keys for AI clients (docs/clients.md).
struct APIKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-key", abstract: "Make, list and revoke personal API keys for AI clients (OpenAI-compatible API).",
        subcommands: [Create.self, List.self, RevokeKey.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a key; it is printed once, keep it somewhere safe.")

        @Argument(help: "A name to tell the key apart, e.g. the client it is for.") var name: String
        @Option(help: "Days until the key stops working (default: never).") var expiresInDays: Int?
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONFlag

        func run() async throws {
            try await runReportingErrors {
                let created = try await common.api().call(
                    CreatedAPIKey.self, .POST, "/v1/api-keys", body: APIKeyBody(name: name, expiresIn: expiresInDays.map { $0 * 24 * 3600 })
                )
                if output.json { return Terminal.json(created.raw) }
                Terminal.line(created.value.key)
                Terminal.line("This is the only time the key is shown. Use it as the API key of an OpenAI-compatible client,")
                Terminal.line("with the base URL \(try common.api().baseURL)/v1 (see docs/clients.md).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your working keys (never their secrets).")

        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONFlag

        func run() async throws {
            try await runReportingErrors {
                let keys = try await common.api().call([APIKeyView].self, .GET, "/v1/api-keys")
                if output.json { return Terminal.json(keys.raw) }
                if keys.value.isEmpty { return Terminal.line("No API keys: gatewayctl api-key create NAME makes one") }
                Terminal.table(
                    ["ID", "NAME", "PREFIX", "CREATED", "EXPIRES", "LAST USED"],
                    keys.value.map {
                        [
                            $0.id, $0.name, $0.prefix + "…", rfc3339($0.createdAt), $0.expiresAt.map(rfc3339) ?? "never",
                            $0.lastUsedAt.map(rfc3339) ?? "-",
                        ]
                    })
            }
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a key: it stops working at once.")

        @Argument(help: "The key's id (gatewayctl api-key list).") var id: String
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await runReportingErrors {
                let segment = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? id
                let response = try await common.api().send(.DELETE, "/v1/api-keys/\(segment)")
                guard (200..<300).contains(response.status) else { throw GatewayClientError.problem(response.problem) }
                Terminal.line("Revoked \(id)")
            }
        }
    }
}
