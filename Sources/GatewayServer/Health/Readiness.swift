import Foundation

/// A dependency `/readyz` checks with one cheap round trip.
public struct DependencyCheck: Sendable {
    public let name: String
    public let probe: @Sendable () async throws -> Void

    public init(name: String, probe: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.probe = probe
    }
}

public struct ReadinessReport: Sendable, Encodable {
    public struct Check: Sendable, Encodable {
        public let status: String
        public let latencyMs: Double
        public let error: String?

        enum CodingKeys: String, CodingKey {
            case status
            case latencyMs = "latency_ms"
            case error
        }
    }

    /// The OpenID Provider in oidc mode: reported, but never a reason to be unready (existing
    /// users keep working while it is unreachable).
    public struct IdentityProvider: Sendable, Encodable {
        public let issuer: String
        /// `available`, `discovering` or `unreachable`.
        public let status: String
        public let error: String?
        /// What to register at the issuer as the redirect URI.
        public let callbackURL: String

        public init(issuer: String, status: String, error: String?, callbackURL: String) {
            self.issuer = issuer
            self.status = status
            self.error = error
            self.callbackURL = callbackURL
        }

        enum CodingKeys: String, CodingKey {
            case issuer, status, error
            case callbackURL = "callback_url"
        }
    }

    public let status: String
    public let version: String
    public let checks: [String: Check]
    public let identityProvider: IdentityProvider?

    public var isReady: Bool { status == "ready" }

    enum CodingKeys: String, CodingKey {
        case status, version, checks
        case identityProvider = "identity_provider"
    }
}

/// Runs every check concurrently, each bounded by `timeout`, so `/readyz` answers in about
/// that time even when a dependency hangs.
public struct Readiness: Sendable {
    public let checks: [DependencyCheck]
    public let timeout: Duration
    let metrics: GatewayMetrics
    let identityProvider: (@Sendable () async -> ReadinessReport.IdentityProvider)?

    public init(
        checks: [DependencyCheck], timeout: Duration = .seconds(1), metrics: GatewayMetrics,
        identityProvider: (@Sendable () async -> ReadinessReport.IdentityProvider)? = nil
    ) {
        self.checks = checks
        self.timeout = timeout
        self.metrics = metrics
        self.identityProvider = identityProvider
    }

    public func evaluate() async -> ReadinessReport {
        let results = await withTaskGroup(of: (String, ReadinessReport.Check).self) { group in
            for check in checks {
                group.addTask {
                    let start = ContinuousClock.now
                    var failure: (any Error)?
                    do {
                        try await withDeadline(timeout) { try await check.probe() }
                    } catch {
                        failure = error
                    }
                    let elapsed = ContinuousClock.now - start
                    metrics.recordDependency(check.name, operation: "readiness", duration: elapsed, succeeded: failure == nil)
                    let latency = (elapsed.milliseconds * 100).rounded() / 100
                    return (
                        check.name,
                        ReadinessReport.Check(
                            status: failure == nil ? "up" : "down", latencyMs: latency, error: failure.map(Self.describe))
                    )
                }
            }
            return await group.reduce(into: [String: ReadinessReport.Check]()) { $0[$1.0] = $1.1 }
        }
        let ready = results.values.allSatisfy { $0.status == "up" }
        return ReadinessReport(
            status: ready ? "ready" : "unavailable", version: GatewayVersion.current, checks: results,
            identityProvider: await identityProvider?())
    }

    /// A short, secret-free reason (dependency errors can embed connection strings otherwise).
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        let firstLine = text.split(separator: "\n").first.map(String.init) ?? text
        return String(firstLine.prefix(200))
    }
}
