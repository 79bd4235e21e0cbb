/// Reported in the start-up line, `/readyz` and the `Server` header.
public enum GatewayVersion {
    public static let current = "0.1.0"
}
