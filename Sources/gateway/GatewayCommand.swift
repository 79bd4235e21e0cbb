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
        subcommands: [Serve.self, Dev.self],
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

/// EX_CONFIG from sysexits.h: the conventional status for a configuration error.
let configurationErrorExitCode: Int32 = 78

func launch(mode: RunMode, options: RunOptions) async throws {
    let environment = DotEnv.environment(merging: ProcessInfo.processInfo.environment, fileAt: options.envFile)
    let configuration: GatewayConfiguration
    do {
        configuration = try GatewayConfiguration.load(mode: mode, environment: environment)
    } catch {
        FileHandle.standardError.write(Data("gateway: \(error.description)\n".utf8))
        throw ExitCode(configurationErrorExitCode)
    }
    // The firebase and oidc connectors are not in this version yet: say so before binding.
    guard configuration.authMode == .demo else {
        FileHandle.standardError.write(Data(
            "gateway: AUTH_MODE=\(configuration.authMode.rawValue) is not available in this version yet; use AUTH_MODE=demo\n".utf8))
        throw ExitCode(configurationErrorExitCode)
    }
    if options.checkConfig {
        print("""
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
