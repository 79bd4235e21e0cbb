/// Everything the client throws.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error reply, e.g. `WRONGTYPE Operation against a key ...`.
    case server(message: String)
    /// AUTH (or HELLO ... AUTH) was rejected; the message is the server's.
    case authenticationFailed(message: String)
    /// Establishing the TCP/TLS connection failed (refused, timed out, unresolvable, TLS error).
    case connectionFailed(message: String)
    /// The connection closed (or was closed by us) before the reply arrived.
    case connectionClosed
    /// The pool recently failed to connect and is backing off; it retries after the backoff.
    case connectionUnavailable(lastError: String)
    /// No reply within the command timeout. The connection it was sent on has been closed.
    case commandTimedOut(command: String, timeout: Duration)
    /// The server sent bytes that are not valid RESP, or a reply with no request waiting for it.
    case protocolError(message: String)
    /// A typed helper got a reply of a shape it does not understand.
    case unexpectedReply(command: String, reply: String)
    /// A `redis://` URL could not be understood.
    case invalidURL(message: String)
    /// The client or subscriber has been shut down.
    case shutDown

    /// The leading upper-case word of a server error, e.g. `WRONGTYPE`, `NOSCRIPT`, `ERR`.
    public var serverErrorCode: String? {
        guard case .server(let message) = self else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String {
        switch self {
        case .server(let message): "Redis error: \(message)"
        case .authenticationFailed(let message): "Redis authentication failed: \(message)"
        case .connectionFailed(let message): "Could not connect to Redis: \(message)"
        case .connectionClosed: "Redis connection closed"
        case .connectionUnavailable(let lastError): "Redis unavailable, reconnecting (last error: \(lastError))"
        case .commandTimedOut(let command, let timeout): "Redis command \(command) timed out after \(timeout)"
        case .protocolError(let message): "Redis protocol error: \(message)"
        case .unexpectedReply(let command, let reply): "Unexpected reply to \(command): \(reply)"
        case .invalidURL(let message): "Invalid Redis URL: \(message)"
        case .shutDown: "Redis client has been shut down"
        }
    }

    /// True for errors that mean "Redis could not be reached", as opposed to a server-side rejection.
    public var isConnectionError: Bool {
        switch self {
        case .connectionFailed, .connectionClosed, .connectionUnavailable, .commandTimedOut, .protocolError: true
        default: false
        }
    }
}
