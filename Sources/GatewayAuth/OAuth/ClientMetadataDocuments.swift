import AsyncHTTPClient
import Foundation
import GatewayProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Client ID Metadata Documents: a client's `client_id` is an https URL, and the JSON document
/// there is its metadata (name, redirect URIs). Fetching a URL a stranger chose is a
/// server-side request forgery risk, so every fetch is fenced:
/// - https only, ASCII, with a path, no credentials, fragment or dot segments (also when
///   percent-encoded);
/// - the host's addresses are resolved first and every one must be public (no loopback,
///   private, link-local, shared, multicast, translated or reserved range), and the connection
///   goes to the checked address (so a second DNS answer cannot point it elsewhere);
/// - no redirects, at most 5 KiB, and one 5 s deadline around everything (connect, head and
///   body: a server that sends its head and then drips the body is cut off at 5 s);
/// - one fetch per URL at a time (callers asking for the same URL share it), at most
///   `maximumFetches` at once per replica, and a fetch whose every caller left is cancelled;
/// - results are cached (a good document 5 minutes, a failure 1 minute), so one URL costs at
///   most one fetch a minute on each replica.
/// `allowLoopback` (development and tests only) also admits loopback addresses, over http too.
package actor ClientMetadataDocuments {
    package static let maximumDocumentBytes = 5 * 1024
    static let fetchDeadline: Duration = .seconds(5)
    static let goodLifetime: TimeInterval = 300
    static let failureLifetime: TimeInterval = 60
    static let maximumCachedDocuments = 1_000

    let allowLoopback: Bool
    let tls: TLSConfiguration
    let maximumFetches: Int
    let logger: Logger
    private var cache: [String: (result: Result<OAuthClientMetadata, OAuthError>, expires: Date)] = [:]
    /// Fetches under way, by URL, with how many callers wait for each.
    private var inFlight: [String: (fetch: UUID, task: Task<Result<OAuthClientMetadata, OAuthError>, Never>, waiters: Int)] = [:]

    /// `caPEM`: extra CA certificates to trust (a private CA), besides the system's.
    package init(allowLoopback: Bool, caPEM: String? = nil, maximumFetches: Int = 16, logger: Logger) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEM {
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))]
        }
        self.allowLoopback = allowLoopback
        self.tls = tls
        self.maximumFetches = maximumFetches
        self.logger = logger
    }

    /// How many fetches are under way on this replica.
    package var fetchesInFlight: Int { inFlight.count }

    /// The validated document, or an `OAuthError` (`invalid_client`) saying why it cannot be used.
    package func document(for clientID: String) async throws(OAuthError) -> OAuthClientMetadata {
        if let cached = cache[clientID], cached.expires > Date() { return try cached.result.get() }
        let task: Task<Result<OAuthClientMetadata, OAuthError>, Never>
        if let running = inFlight[clientID] {
            task = running.task
            inFlight[clientID]?.waiters += 1
        } else {
            guard inFlight.count < maximumFetches else {
                logger.notice("client metadata document not fetched: too many fetches", metadata: ["event": "oauth.client_metadata_busy"])
                throw OAuthError.invalidClient(
                    "too many client metadata documents are being fetched right now; try again in a few seconds")
            }
            let (allowLoopback, tls, logger) = (self.allowLoopback, self.tls, self.logger)
            let fetch = UUID()
            task = Task {
                let result: Result<OAuthClientMetadata, OAuthError>
                do {
                    result = .success(try await Self.fetch(clientID, allowLoopback: allowLoopback, tls: tls, logger: logger))
                } catch let error as OAuthError {
                    result = .failure(error)
                } catch {
                    result = .failure(.invalidClient("the client's metadata document could not be fetched"))
                }
                self.finished(clientID, result, fetch: fetch)
                return result
            }
            inFlight[clientID] = (fetch, task, 1)
        }
        let result = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            Task { await self.leave(clientID, task) }
        }
        return try result.get()
    }

    /// A caller stopped waiting: the last one to leave cancels the fetch (and frees its place
    /// at once, so a caller arriving now starts a fetch of its own instead of joining this one).
    private func leave(_ clientID: String, _ task: Task<Result<OAuthClientMetadata, OAuthError>, Never>) {
        guard let running = inFlight[clientID], running.task == task else { return }
        if running.waiters <= 1 {
            inFlight[clientID] = nil
            task.cancel()
        } else {
            inFlight[clientID]?.waiters -= 1
        }
    }

    /// Caches the outcome (not a cancelled fetch: nobody learned anything) and frees the slot.
    private func finished(_ clientID: String, _ result: Result<OAuthClientMetadata, OAuthError>, fetch: UUID) {
        if inFlight[clientID]?.fetch == fetch { inFlight[clientID] = nil }
        let now = Date()
        if case .failure(let error) = result {
            logger.notice(
                "client metadata document refused",
                metadata: [
                    "event": "oauth.client_metadata_refused", "client_host": .string(RedirectTarget(clientID)?.shownAs ?? "?"),
                    "reason": .string(error.message),
                ])
            if error == Self.cancelled { return }
        }
        if cache.count >= Self.maximumCachedDocuments { cache = cache.filter { $0.value.expires > now } }
        if cache.count < Self.maximumCachedDocuments {
            cache[clientID] = (result, now.addingTimeInterval(result.isSuccess ? Self.goodLifetime : Self.failureLifetime))
        }
    }

    static let cancelled = OAuthError.invalidClient("the client's metadata document fetch was cancelled")
    static let tooSlow = OAuthError.invalidClient(
        "the client's metadata document did not arrive within \(fetchDeadline.components.seconds) seconds")

    static func fetch(_ clientID: String, allowLoopback: Bool, tls: TLSConfiguration, logger: Logger) async throws -> OAuthClientMetadata {
        let target = try checkedURL(clientID, allowLoopback: allowLoopback)
        let addresses = try await resolve(target.host)
        guard let address = addresses.first(where: { allowLoopback || isPublic($0) }),
            addresses.allSatisfy({ isPublic($0) || (allowLoopback && isLoopback($0)) })
        else {
            throw OAuthError.invalidClient("the client's metadata document is on a private or reserved address")
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(3), read: .seconds(fetchDeadline.components.seconds)))
        // Connect to the address that was checked; TLS still verifies the URL's host name.
        configuration.dnsOverride = [target.host: address]
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            // One deadline around head and body; the client's shutdown below closes whatever
            // connection a cut-off fetch left open.
            let body = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask {
                    var request = HTTPClientRequest(url: clientID)
                    request.headers.add(name: "Accept", value: "application/json")
                    let response = try await http.execute(request, timeout: .seconds(fetchDeadline.components.seconds))
                    guard response.status == .ok else {
                        throw OAuthError.invalidClient("the client's metadata document answered HTTP \(response.status.code)")
                    }
                    return try await response.body.collect(upTo: maximumDocumentBytes)
                }
                group.addTask {
                    try await Task.sleep(for: fetchDeadline)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else { throw tooSlow }
                return body
            }
            try await http.shutdown()
            return try validated(Data(buffer: body), clientID: clientID)
        } catch {
            try? await http.shutdown()
            if let error = error as? OAuthError { throw error }
            if error is NIOTooManyBytesError {
                throw OAuthError.invalidClient("the client's metadata document is larger than \(maximumDocumentBytes) bytes")
            }
            if error is CancellationError || Task.isCancelled { throw cancelled }
            logger.notice(
                "client metadata document fetch failed",
                metadata: ["event": "oauth.client_metadata_fetch_failed", "client_host": .string(target.host), "error": "\(error)"])
            throw OAuthError.invalidClient("the client's metadata document could not be fetched")
        }
    }

    /// The document's rules: JSON, `client_id` equal to its URL, redirect URIs the gateway
    /// accepts, and no secret-based client authentication (a document cannot hold a secret).
    static func validated(_ data: Data, clientID: String) throws(OAuthError) -> OAuthClientMetadata {
        let document: OAuthClientMetadata
        do {
            document = try JSONDecoder().decode(OAuthClientMetadata.self, from: data)
        } catch {
            throw OAuthError.invalidClient("the client's metadata document is not valid client metadata JSON")
        }
        guard document.clientID == clientID else {
            throw OAuthError.invalidClient("the client's metadata document names another client_id")
        }
        _ = try ThirdPartyClients.validatedRedirectURIs(document.redirectURIs)
        if let method = document.tokenEndpointAuthMethod, method != "none" {
            throw OAuthError.invalidClient("token_endpoint_auth_method \(method) is not supported; use none (public client with PKCE)")
        }
        return document
    }

    /// https, an ASCII DNS name or IP literal, a path other than `/`, and nothing a URL can hide
    /// behind (dot segments are refused however they are spelled: `.`, `%2e`, `%2E%2e`).
    static func checkedURL(_ clientID: String, allowLoopback: Bool) throws(OAuthError) -> (host: String, port: Int) {
        guard let target = RedirectTarget(clientID), case .web(let scheme, let host, let port) = target.kind,
            let components = URLComponents(string: clientID)
        else { throw OAuthError.invalidClient("client_id is not a usable metadata document URL") }
        guard scheme == "https" || (allowLoopback && scheme == "http") else {
            throw OAuthError.invalidClient("a client_id URL must use https")
        }
        let path = components.percentEncodedPath
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            (String(segment).removingPercentEncoding ?? String(segment))
        }
        guard path.count > 1, !segments.contains(where: { $0 == "." || $0 == ".." || $0.contains("/") || $0.contains("\\") }) else {
            throw OAuthError.invalidClient("a client_id URL must have a path (and no dot segments)")
        }
        return (host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port ?? (scheme == "https" ? 443 : 80))
    }

    /// Every address the host resolves to (getaddrinfo, off the event loops).
    static func resolve(_ host: String) async throws -> [String] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
                throw OAuthError.invalidClient("the client's metadata document host does not resolve")
            }
            defer { freeaddrinfo(first) }
            var addresses: [String] = []
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let current = entry {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if let address = current.pointee.ai_addr,
                    getnameinfo(address, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0
                {
                    addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
                entry = current.pointee.ai_next
            }
            guard !addresses.isEmpty else { throw OAuthError.invalidClient("the client's metadata document host does not resolve") }
            return addresses
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        guard let bytes = bytes(of: address) else { return false }
        if bytes.count == 4 { return bytes[0] == 127 }
        return bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// Whether an address is globally routable: not loopback, private (RFC 1918, ULA), shared
    /// (RFC 6598), link-local, multicast, documentation, benchmarking or otherwise reserved.
    static func isPublic(_ address: String) -> Bool {
        guard let bytes = bytes(of: address) else { return false }
        if bytes.count == 4 { return isPublicIPv4(bytes) }
        let zeroPrefix = bytes[0..<10].allSatisfy { $0 == 0 }
        if zeroPrefix, bytes[10] == 0xff, bytes[11] == 0xff { return isPublicIPv4(Array(bytes[12...])) } // ::ffff:a.b.c.d
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return false } // ::, ::1, IPv4-compatible
        // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765): whichever IPv4 address it carries, a
        // translator may deliver it inside; refused like the local-use NAT64 prefix below.
        if bytes[0..<8].allSatisfy({ $0 == 0 }), bytes[8] == 0xff, bytes[9] == 0xff, bytes[10] == 0, bytes[11] == 0 { return false }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return isPublicIPv4(Array(bytes[12...])) } // NAT64
        if bytes[0] == 0x00, bytes[1] == 0x64, bytes[2] == 0xff, bytes[3] == 0x9b, bytes[4] == 0x00, bytes[5] == 0x01 {
            return false // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): translates into the operator's own network
        }
        if bytes[0] & 0xfe == 0xfc { return false } // fc00::/7 unique local
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return false } // fe80::/10 link-local
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0xc0 { return false } // fec0::/10 site-local
        if bytes[0] == 0xff { return false } // multicast
        if bytes[0] == 0x20, bytes[1] == 0x01, bytes[2] == 0x0d, bytes[3] == 0xb8 { return false } // documentation
        if bytes[0] == 0x20, bytes[1] == 0x02 { return false } // 6to4 can embed any IPv4 address
        if bytes[0] == 0x20, bytes[1] == 0x01, bytes[2] == 0, bytes[3] == 0 { return false } // Teredo
        return true
    }

    static func isPublicIPv4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return false
        case (100, 64...127): return false // shared address space
        case (169, 254): return false
        case (172, 16...31): return false
        case (192, 168): return false
        case (198, 18...19): return false // benchmarking
        case (224...255, _): return false // multicast, reserved, broadcast
        default: break
        }
        if b[0] == 192, b[1] == 0, b[2] == 0 || b[2] == 2 { return false } // IETF protocol assignments, TEST-NET-1
        if b[0] == 198, b[1] == 51, b[2] == 100 { return false } // TEST-NET-2
        if b[0] == 203, b[1] == 0, b[2] == 113 { return false } // TEST-NET-3
        return true
    }

    static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        let unscoped = address.split(separator: "%").first.map(String.init) ?? address
        if inet_pton(AF_INET6, unscoped, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
