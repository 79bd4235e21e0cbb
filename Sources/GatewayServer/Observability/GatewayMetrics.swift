import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// The gateway's own metrics, recorded through swift-metrics into one Prometheus registry.
/// Each application owns its registry, so tests running several gateways never mix figures.
package final class GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    package let factory: PrometheusMetricsFactory

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        let latencyBuckets: [Duration] = [
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.defaultDurationHistogramBuckets = latencyBuckets
        self.factory = factory
    }

    /// Counts every request; long-lived streams are left out of the latency histogram
    /// because their duration is a connection lifetime, not a latency.
    package func recordRequest(route: String, method: String, status: Int, duration: Duration, isStream: Bool) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        Counter(label: "gateway_http_requests_total", dimensions: labels, factory: factory).increment()
        if !isStream {
            Timer(label: "gateway_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
                .recordNanoseconds(duration.nanoseconds)
        }
    }

    /// Round trips and failures of a dependency call (`redis`, `store`).
    package func recordDependency(_ dependency: String, operation: String, duration: Duration, succeeded: Bool) {
        Timer(
            label: "gateway_dependency_duration_seconds", dimensions: [("dependency", dependency), ("operation", operation)],
            factory: factory
        ).recordNanoseconds(duration.nanoseconds)
        if !succeeded {
            Counter(
                label: "gateway_dependency_errors_total", dimensions: [("dependency", dependency), ("operation", operation)],
                factory: factory
            ).increment()
        }
    }

    /// Event streams currently open, and why streams ended.
    package func recordStreamOpened() {
        Meter(label: "gateway_event_streams_open", factory: factory).increment()
    }

    package func recordStreamEnded(reason: String) {
        Meter(label: "gateway_event_streams_open", factory: factory).decrement()
        Counter(label: "gateway_event_streams_ended_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Prometheus text exposition format.
    package func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: Double {
        Double(nanoseconds) / 1_000_000
    }
}
