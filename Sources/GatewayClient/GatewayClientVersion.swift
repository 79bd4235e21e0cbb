/// The client library's version, sent as part of gatewayctl's User-Agent.
public enum GatewayClientVersion {
    public static let current = "0.1.0"
}
