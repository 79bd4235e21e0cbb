import GatewayProtocol

/// Everything that can go wrong talking to a gateway, each with a one-line description for people
/// and an exit status for scripts (see docs/gatewayctl.md).
public enum GatewayClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The gateway could not be reached (refused, timed out, DNS, TLS).
    case unreachable(url: String, reason: String)
    /// No stored sign-in, or it is no longer accepted (refresh token expired or revoked).
    case signedOut(gateway: String?)
    /// The API answered with an RFC 9457 problem.
    case problem(ProblemDetails)
    /// The OAuth server answered with an RFC 6749 error.
    case oauth(error: String, description: String?)
    /// Something the gateway sent could not be understood.
    case invalidResponse(String)
    /// A request that cannot be made as given (bad agent name, bad URL, …).
    case usage(String)
    /// The thing asked for does not exist (or is not visible to the caller).
    case notFound(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason):
            return "cannot reach the gateway at \(url) (\(reason))"
        case .signedOut(let gateway):
            return "not signed in: run gatewayctl login \(gateway ?? "<gateway-url>")"
        case .problem(let problem):
            switch problem.kind {
            case .shareRevoked: return "share revoked: \(problem.detail ?? "the owner revoked this share")"
            case .inviteExpired: return "invite expired: \(problem.detail ?? "ask the owner for a new invite")"
            case .inviteRevoked: return "invite revoked: \(problem.detail ?? "the owner revoked this invite")"
            case .inviteExhausted: return "invite used up: \(problem.detail ?? "it reached its maximum uses")"
            default:
                if let detail = problem.detail, !detail.isEmpty { return "\(problem.title.lowercased()): \(detail)" }
                return "\(problem.title.lowercased()) (HTTP \(problem.status))"
            }
        case .oauth(let error, let description):
            return description.map { "sign-in failed: \($0) (\(error))" } ?? "sign-in failed: \(error)"
        case .invalidResponse(let what):
            return "unexpected answer from the gateway: \(what)"
        case .usage(let what):
            return what
        case .notFound(let what):
            return what
        }
    }

    /// The process exit status for this error (documented in docs/gatewayctl.md).
    public var exitCode: Int32 {
        switch self {
        case .unreachable: return ExitStatus.unreachable
        case .signedOut: return ExitStatus.signedOut
        case .usage: return ExitStatus.usage
        case .notFound: return ExitStatus.notFound
        case .oauth, .invalidResponse: return ExitStatus.failure
        case .problem(let problem):
            switch problem.kind {
            case .invalidToken: return ExitStatus.signedOut
            case .shareRevoked, .inviteExpired, .inviteRevoked, .inviteExhausted: return ExitStatus.accessGone
            case .notFound: return ExitStatus.notFound
            default: return ExitStatus.failure
            }
        }
    }

    /// True for failures worth retrying: the gateway unreachable (restarting) or failing (5xx).
    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        case .problem(let problem): return problem.status >= 500 || problem.status == 429
        default: return false
        }
    }

    /// True when the error means the caller's access through a share is gone.
    public var isAccessRevoked: Bool {
        if case .problem(let problem) = self { return problem.kind == .shareRevoked }
        return false
    }
}

/// gatewayctl's exit statuses.
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Any other failure: an API error, a failed sign-in, a reply that failed.
    public static let failure: Int32 = 1
    /// The command line was wrong (EX_USAGE, as the argument parser uses).
    public static let usage: Int32 = 64
    /// Not signed in, or the sign-in expired or was revoked: run `gatewayctl login <url>`.
    public static let signedOut: Int32 = 3
    /// The gateway could not be reached.
    public static let unreachable: Int32 = 4
    /// The share was revoked, or the invite expired, was revoked or is used up.
    public static let accessGone: Int32 = 5
    /// The agent, share or invite does not exist (or is not visible to you).
    public static let notFound: Int32 = 6
}
