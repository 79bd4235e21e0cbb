import Foundation
import Hummingbird

/// `application/x-www-form-urlencoded` bodies and query strings as a flat dictionary.
enum FormData {
    static let maximumBodyBytes = 64 * 1024

    /// Parses `a=1&b=two+words`. Returns nil when a parameter repeats: RFC 6749 requires
    /// refusing requests with duplicated parameters.
    static func parse(_ encoded: String) -> [String: String]? {
        var values: [String: String] = [:]
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            guard values[name] == nil else { return nil }
            values[name] = value
        }
        return values
    }

    private static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func query(of request: Request) -> [String: String]? {
        parse(request.uri.query ?? "")
    }

    static func body(of request: Request) async throws -> [String: String]? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return nil
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBodyBytes)
        } catch {
            throw Problem(.bodyTooLarge, title: "Request body too large", status: 413, detail: "forms are limited to 64 KiB")
        }
        let text = String(buffer: buffer)
        // NUL cannot be stored as text; such a form is malformed.
        guard !text.contains("\u{0}"), !text.lowercased().contains("%00") else { return nil }
        return parse(text)
    }
}
