import ArgumentParser
import Foundation
import GatewayConfig
import GatewayServer
import Logging

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Share the AI agents on your desktop with other people, relayed over Server-Sent Events.",
        version: GatewayVersion.current,
        subcommands: [Serve.self, Dev.self, Variables.self],
        defaultSubcommand: Serve.self)
}

struct RunOptions: ParsableArguments {
    @Flag(name: .long, help: "Validate the configuration, print a summary and exit (78 when invalid).")
    var checkConfig = false

    @Option(name: .long, help: "A .env file to read; variables already in the environment win.")
    var envFile = ".env"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway for a deployment: strict environment contract, Redis and a SQL store.")

    @OptionGroup var options: RunOptions

    func run() async throws {
        try await launch(mode: .serve, options: options)
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway locally on embedded defaults: SQLite in ./data, demo sign-in, no Redis.")

    @OptionGroup var options: RunOptions

    func run() async throws {
        try await launch(mode: .dev, options: options)
    }
}

/// `gateway variables [--json]`: the configuration contract (`Gateway.configurationVariables`) as the
/// binary really reads it. Deploy files (.env.example, railway.toml, render.yaml, fly.toml, …) are
/// tested against this output, so they cannot name a variable the gateway does not know.
struct Variables: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every environment variable the gateway reads (name, requirement, default, description).")

    @Flag(name: .long, help: "Print a JSON array instead of a table.")
    var json = false

    struct Entry: Encodable {
        let name: String
        /// `serve` (required by `gateway serve`), `auth_mode` (required with one AUTH_MODE) or `optional`.
        let required: String
        /// The AUTH_MODE that makes the variable required, when `required` is `auth_mode`.
        let authMode: String?
        let defaultValue: String?
        let example: String
        let description: String
        let secret: Bool

        enum CodingKeys: String, CodingKey {
            case name, required
            case authMode = "auth_mode"
            case defaultValue = "default"
            case example, description, secret
        }

        init(_ variable: ConfigurationVariable) {
            name = variable.name
            switch variable.requirement {
            case .requiredForServe: (required, authMode) = ("serve", nil)
            case .requiredWithAuthMode(let mode): (required, authMode) = ("auth_mode", mode.rawValue)
            case .optional: (required, authMode) = ("optional", nil)
            }
            defaultValue = variable.defaultValue
            example = variable.example
            description = variable.summary
            secret = variable.isSecret
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(required, forKey: .required)
            try container.encode(authMode, forKey: .authMode)
            try container.encode(defaultValue, forKey: .defaultValue)
            try container.encode(example, forKey: .example)
            try container.encode(description, forKey: .description)
            try container.encode(secret, forKey: .secret)
        }
    }

    func run() throws {
        let entries = Gateway.configurationVariables.map(Entry.init)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        for entry in entries {
            let requirement = entry.authMode.map { "with AUTH_MODE=\($0)" } ?? entry.required
            let defaultText = entry.defaultValue.map { " (default: \($0.isEmpty ? "empty" : $0))" } ?? ""
            print("\(entry.name)  [\(requirement)]\(defaultText)\n    \(entry.description)")
        }
    }
}

/// EX_CONFIG from sysexits.h: the conventional status for a configuration error.
let configurationErrorExitCode: Int32 = 78

func launch(mode: RunMode, options: RunOptions) async throws {
    let environment = DotEnv.environment(merging: ProcessInfo.processInfo.environment, fileAt: options.envFile)
    let configuration: GatewayConfiguration
    do {
        configuration = try Gateway.loadConfiguration(mode: mode, environment: environment)
    } catch {
        FileHandle.standardError.write(Data("gateway: \(error.description)\n".utf8))
        throw ExitCode(configurationErrorExitCode)
    }
    if options.checkConfig {
        print(
            """
            configuration OK
              mode: \(configuration.mode.rawValue)
              public base URL: \(configuration.publicBaseURL)
              listen: [\(configuration.bindAddress)]:\(configuration.port)
              auth mode: \(configuration.authMode.rawValue)
              store: \(configuration.storeKind)
              event bus: \(configuration.eventBusKind)
            """)
        return
    }
    LoggingSetup.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
    let logger = Logger(label: "gateway")
    do {
        try await Gateway.run(configuration: configuration, logger: logger)
    } catch {
        logger.critical("gateway failed", metadata: ["event": "gateway.failed", "error": "\(error)"])
        throw ExitCode.failure
    }
}
