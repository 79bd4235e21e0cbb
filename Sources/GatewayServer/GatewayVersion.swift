/// Reported in the start-up line, `/readyz` and the `Server` header.
package enum GatewayVersion {
    package static let current = "0.1.0"
}
