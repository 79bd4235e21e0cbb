import Foundation
import NIOConcurrencyHelpers

package struct MissingTestServiceError: Error, CustomStringConvertible {
    package let description: String

    package init(description: String) {
        self.description = description
    }
}

/// What a service-backed test needs from the machine beyond Swift.
package enum TestRequirement: String, Sendable, CaseIterable {
    /// The shared throw-away redis-server: `TEST_REDIS_URL`.
    case redis
    /// The shared throw-away Postgres (a superuser) and `psql`: `TEST_DATABASE_URL`.
    case postgres
    /// A `redis-server` executable the test starts and stops itself.
    case redisServer
    /// `python3`, for a stand-in peer written in Python.
    case python3
    /// `zbarimg` (zbar-tools), an independent QR decoder.
    case zbarimg

    var isMet: Bool {
        switch self {
        case .redis: TestEnvironment.environment("TEST_REDIS_URL") != nil
        case .postgres: TestEnvironment.environment("TEST_DATABASE_URL") != nil && findExecutable("psql") != nil
        case .redisServer: findExecutable("redis-server") != nil
        case .python3: findExecutable("python3") != nil
        case .zbarimg: findExecutable("zbarimg") != nil
        }
    }

    var explanation: String {
        switch self {
        case .redis: "Redis (TEST_REDIS_URL)"
        case .postgres: "Postgres (TEST_DATABASE_URL and psql)"
        case .redisServer: "redis-server on PATH"
        case .python3: "python3 on PATH"
        case .zbarimg: "zbarimg on PATH (zbar-tools)"
        }
    }
}

/// The shared services `scripts/test.sh` starts, and whether a test that needs them runs.
///
/// A plain `swift test` on a machine with only Swift runs every in-memory test and skips the
/// service-backed ones, saying how many it skipped and how to run them. Under `scripts/test.sh`
/// (`GATEWAY_TEST_SERVICES=required`) or CI (`CI` set) every test runs, so a missing service fails
/// its tests instead of skipping them: a green run there has run everything.
package enum TestEnvironment {
    /// Whether every service-backed test must run (and fail when its service is missing).
    package static var servicesRequired: Bool {
        if environment("GATEWAY_TEST_SERVICES") == "required" { return true }
        guard let ci = environment("CI") else { return false }
        return ci != "0" && ci.lowercased() != "false"
    }

    /// Whether a test needing `requirements` runs here; a test that does not is counted, and the
    /// count is reported when the test process exits.
    package static func runs(_ requirements: [TestRequirement]) -> Bool {
        if servicesRequired || requirements.allSatisfy(\.isMet) { return true }
        SkippedServiceTests.record(missing: requirements.filter { !$0.isMet })
        return false
    }

    /// The note a skipped test carries.
    package static func skipNote(_ requirements: [TestRequirement]) -> String {
        "needs \(requirements.map(\.explanation).joined(separator: " and ")): `bash scripts/test.sh` starts the services and runs every test"
    }

    package static func value(_ name: String) throws -> String {
        guard let value = environment(name) else {
            throw MissingTestServiceError(
                description: "\(name) is not set: run the suite with `bash scripts/test.sh`, which starts Redis and Postgres")
        }
        return value
    }

    static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// `redis://127.0.0.1:PORT` of the shared throw-away redis-server.
    package static func redisURL() throws -> String { try value("TEST_REDIS_URL") }

    /// `postgres://…` of the shared throw-away Postgres (a superuser, so tests may create databases).
    package static func databaseURL() throws -> String { try value("TEST_DATABASE_URL") }

    /// A product this package builds (`gateway`, `gatewayctl`): `variable` when set, else the one
    /// `swift build` put next to the running test bundle, so a plain `swift test` finds it.
    package static func builtProduct(_ name: String, variable: String) throws -> String {
        if let path = environment(variable) {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw MissingTestServiceError(description: "\(variable)=\(path) is not an executable")
            }
            return path
        }
        // The test runner is `…/debug/<Package>PackageTests.xctest` (or inside it, on macOS).
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for _ in 0..<4 {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingTestServiceError(
            description: "\(variable) is not set and no \(name) was found next to the tests: run `swift build` first")
    }
}

/// The service-backed tests this process skipped, reported once when it exits.
private enum SkippedServiceTests {
    static let state = NIOLockedValueBox((count: 0, missing: Set<String>(), reportRegistered: false))

    static func record(missing: [TestRequirement]) {
        let register = state.withLockedValue { state in
            state.count += 1
            state.missing.formUnion(missing.map(\.explanation))
            defer { state.reportRegistered = true }
            return !state.reportRegistered
        }
        if register { atexit { SkippedServiceTests.report() } }
    }

    static func report() {
        let (count, missing) = state.withLockedValue { ($0.count, $0.missing.sorted()) }
        let line =
            "\n==> \(count) service-backed tests, suites and argument cases were skipped: this machine lacks "
            + "\(missing.joined(separator: ", ")). `bash scripts/test.sh` installs and starts them and runs every test.\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Ports `freeLoopbackPort` handed out in this process: tests running in parallel must never be
/// given the same one (a second server on it would fail to bind while the first answers for it).
private let handedOutPorts = NIOLockedValueBox(Set<Int>())

/// A TCP port nobody listens on right now (the kernel picks it), and that no other caller in this
/// process was given.
package func freeLoopbackPort() throws -> Int {
    for _ in 0..<100 {
        let port = try kernelPickedLoopbackPort()
        if handedOutPorts.withLockedValue({ $0.insert(port).inserted }) { return port }
    }
    throw MissingTestServiceError(description: "no free loopback port that was not handed out already")
}

private func kernelPickedLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw MissingTestServiceError(description: "socket() failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw MissingTestServiceError(description: "bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw MissingTestServiceError(description: "getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension TestEnvironment {
    /// Creates a uniquely named, empty database on the shared test Postgres and returns its URL,
    /// so tests never see each other's rows.
    package static func createDatabase() async throws -> String {
        let adminURL = try databaseURL()
        let name = "gateway_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        guard let psql = findExecutable("psql") else {
            throw MissingTestServiceError(description: "psql not found; run `bash scripts/test.sh`, which installs PostgreSQL")
        }
        try await ChildProcess.run(psql, [adminURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"])
        guard var components = URLComponents(string: adminURL) else {
            throw MissingTestServiceError(description: "TEST_DATABASE_URL is not a URL")
        }
        components.path = "/\(name)"
        return components.string!
    }
}
