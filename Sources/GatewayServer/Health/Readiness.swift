import Foundation
import GatewayProtocol

/// A dependency `/readyz` checks with one cheap round trip.
package struct DependencyCheck: Sendable {
    package let name: String
    package let probe: @Sendable () async throws -> Void

    package init(name: String, probe: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.probe = probe
    }
}

/// Runs every check concurrently, each bounded by `timeout`, so `/readyz` answers in about
/// that time even when a dependency hangs.
package struct Readiness: Sendable {
    package let checks: [DependencyCheck]
    package let timeout: Duration
    let metrics: GatewayMetrics
    let identityProvider: (@Sendable () async -> ReadinessReport.IdentityProvider)?

    package init(
        checks: [DependencyCheck], timeout: Duration = .seconds(1), metrics: GatewayMetrics,
        identityProvider: (@Sendable () async -> ReadinessReport.IdentityProvider)? = nil
    ) {
        self.checks = checks
        self.timeout = timeout
        self.metrics = metrics
        self.identityProvider = identityProvider
    }

    package func evaluate() async -> ReadinessReport {
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
