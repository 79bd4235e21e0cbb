import ArgumentParser

/// `gateway-stream-bench`: streaming figures for the gateway (see docs/benchmarks.md).
/// `run` is the driver; it starts `server` as a child process and measures against it.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-stream-bench",
        abstract: "Benchmark Server-Sent Event delivery of the gateway over a real Redis.",
        subcommands: [RunCommand.self, ServerCommand.self],
        defaultSubcommand: RunCommand.self)
}
