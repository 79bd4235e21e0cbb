import Foundation
import Logging
import NIOConcurrencyHelpers

/// One JSON object per line: `ts`, `level`, `logger`, `msg`, then metadata as top-level fields.
/// Operators grep these and log platforms (Railway, Render, Fly) parse them.
package struct JSONLogHandler: LogHandler {
    package typealias Sink = @Sendable (String) -> Void

    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .info
    package var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: Sink

    package init(label: String, sink: @escaping Sink = JSONLogHandler.standardOutput) {
        self.label = label
        self.sink = sink
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        sink(Self.render(level: event.level, label: label, message: event.message.description, metadata: merged, date: Date()))
    }

    static func render(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, date: Date) -> String {
        var line = "{\"ts\":\(JSONText.string(timestamp(date))),\"level\":\(JSONText.string(level.rawValue)),"
        line += "\"logger\":\(JSONText.string(label)),\"msg\":\(JSONText.string(message))"
        for key in metadata.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
            line += ",\(JSONText.string(key)):\(JSONText.value(metadata[key]!))"
        }
        return line + "}"
    }

    static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    private static let outputLock = NIOLock()

    package static let standardOutput: Sink = { line in
        outputLock.withLock {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}

enum JSONText {
    static func value(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): return Self.string(string)
        case .stringConvertible(let convertible): return Self.string(convertible.description)
        case .array(let values): return "[" + values.map(Self.value).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            return "{" + dictionary.keys.sorted().map { "\(Self.string($0)):\(Self.value(dictionary[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func string(_ string: String) -> String {
        var escaped = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.value < 0x20:
                escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
