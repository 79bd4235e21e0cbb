import Foundation

/// The JSON coders of the wire protocol: RFC 3339 dates (whole seconds, UTC), sorted keys, and
/// slashes left alone. Field names are snake_case through each type's own `CodingKeys`, so the
/// coders need no key strategy and a type reads the same in every coder.
public enum WireJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = parseDate(text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an RFC 3339 date-time")
        }
        return decoder
    }

    /// One configured encoder and decoder for the process, for hot paths (every streamed reply
    /// delta is decoded once and encoded once): making a coder per call costs more than the
    /// coding of a small value. They are never reconfigured; use `encoder()`/`decoder()` for a
    /// copy to change.
    public static let sharedEncoder = encoder()
    public static let sharedDecoder = decoder()

    /// `value` as a JSON string.
    public static func string<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try sharedEncoder.encode(value), as: UTF8.self)
    }

    /// RFC 3339 with or without fractional seconds (other servers and proxies may add them).
    static func parseDate(_ text: String) -> Date? {
        let whole = ISO8601DateFormatter()
        if let date = whole.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// A closed set of string values on the wire. Decoding an unknown value fails with a message
/// that lists the accepted ones (the server puts it in its 400 problem).
public protocol WireEnum: RawRepresentable, CaseIterable, Codable, Sendable, Hashable where RawValue == String {}

extension WireEnum {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let accepted = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be one of \(accepted)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
