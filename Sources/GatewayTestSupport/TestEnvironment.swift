import Foundation
import NIOConcurrencyHelpers

public struct MissingTestServiceError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// The shared services `scripts/test.sh` starts. Tests that need one fail (never skip) when it is absent.
public enum TestEnvironment {
    public static func value(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingTestServiceError(
                description: "\(name) is not set: run the suite with `bash scripts/test.sh`, which starts Redis and Postgres")
        }
        return value
    }

    /// `redis://127.0.0.1:PORT` of the shared throw-away redis-server.
    public static func redisURL() throws -> String { try value("TEST_REDIS_URL") }

    /// `postgres://…` of the shared throw-away Postgres (a superuser, so tests may create databases).
    public static func databaseURL() throws -> String { try value("TEST_DATABASE_URL") }
}

/// Ports `freeLoopbackPort` handed out in this process: tests running in parallel must never be
/// given the same one (a second server on it would fail to bind while the first answers for it).
private let handedOutPorts = NIOLockedValueBox(Set<Int>())

/// A TCP port nobody listens on right now (the kernel picks it), and that no other caller in this
/// process was given.
public func freeLoopbackPort() throws -> Int {
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
    public static func createDatabase() async throws -> String {
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
