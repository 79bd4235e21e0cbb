import Foundation

// Reads `components.schemas` of docs/openapi.yaml and builds JSON instances of each schema, so a
// test can round-trip them through the Swift wire types. The YAML reader covers only the subset
// the document is written in and throws (naming the line) on anything else instead of guessing.

// MARK: - JSON values

/// A JSON value (what JSONSerialization produces, but Equatable and Sendable).
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Compact JSON with sorted keys, so equal values give equal bytes.
    func data() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension JSONValue: Codable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Bool before Double: JSONDecoder will not read `true` as a number nor `1` as a Bool.
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The sorted-key JSON text, so test failures show readable instances.
    var description: String {
        guard let data = try? data() else { return "<not representable as JSON>" }
        return String(decoding: data, as: UTF8.self)
    }
}

// MARK: - Errors

/// Why the document could not be read or a schema could not be turned into an instance.
struct OpenAPISchemaError: Error, CustomStringConvertible {
    /// The 1-based line of the YAML text, for reading errors.
    var line: Int?
    var message: String
    /// The document's file name, once known (see `OpenAPISchemas.load(from:)`).
    var file: String?

    var description: String {
        guard let line else { return message }
        return "\(file ?? "YAML") line \(line): \(message)"
    }
}

// MARK: - Schemas

/// The `components.schemas` of an OpenAPI document, read with a minimal YAML reader.
struct OpenAPISchemas: Sendable {
    /// Every schema name, document order.
    let names: [String]
    private let schemas: [String: YAMLNode]

    /// Parses the whole document (so a malformed document fails loudly), keeps components.schemas.
    init(yaml: String) throws {
        var reader = YAMLReader(yaml)
        let document = try reader.readDocument()
        guard case .mapping(let entries)? = document["components"]?["schemas"] else {
            throw OpenAPISchemaError(message: "the document has no `components.schemas` mapping")
        }
        names = entries.map(\.key)
        schemas = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
    }

    static func load(from url: URL) throws -> OpenAPISchemas {
        let text = try String(contentsOf: url, encoding: .utf8)
        do {
            return try OpenAPISchemas(yaml: text)
        } catch var error as OpenAPISchemaError {
            error.file = url.lastPathComponent
            throw error
        }
    }

    /// Instances of the named schema: (1) every property present (optional ones too, nullable ones
    /// with a non-null value), (2) only the required properties. Nested `$ref`s resolved
    /// recursively the same way (full for (1), required-only for (2)). Arrays get exactly one item.
    /// Always two values, in that order (equal when everything is required or the schema is no
    /// object).
    func instances(of name: String) throws -> [JSONValue] {
        let schema = try schema(named: name, at: name)
        return [
            try instance(of: schema, .full, at: name, hint: name, refs: [name]),
            try instance(of: schema, .requiredOnly, at: name, hint: name, refs: [name]),
        ]
    }

    /// The schema's property names (document order) and which are required (for error messages).
    /// Follows `$ref` and merges `allOf`; empty for schemas that are not objects.
    func properties(of name: String) throws -> (all: [String], required: Set<String>) {
        var all: [String] = []
        var required: Set<String> = []
        try collectProperties(of: schema(named: name, at: name), at: name, refs: [name], all: &all, required: &required)
        return (all, required)
    }

    // MARK: Instance generation

    private enum Mode { case full, requiredOnly }

    private func collectProperties(
        of schema: YAMLNode, at path: String, refs: [String], all: inout [String], required: inout Set<String>
    ) throws {
        if case .scalar(.string(let ref))? = schema["$ref"] {
            let name = try referencedName(ref, at: path, refs: refs)
            return try collectProperties(
                of: self.schema(named: name, at: path), at: path, refs: refs + [name], all: &all, required: &required)
        }
        if case .sequence(let parts)? = schema["allOf"] {
            for part in parts {
                try collectProperties(of: part, at: path, refs: refs, all: &all, required: &required)
            }
        }
        let properties = try propertyEntries(of: schema, at: path)
        all += properties.map(\.key).filter { !all.contains($0) }
        required.formUnion(try requiredNames(of: schema, properties: properties, at: path))
    }

    private func schema(named name: String, at path: String) throws -> YAMLNode {
        guard let schema = schemas[name] else {
            throw OpenAPISchemaError(message: "\(path): no schema `\(name)` under components.schemas")
        }
        return schema
    }

    /// `X` of `#/components/schemas/X`; a reference back into `refs` could never end.
    private func referencedName(_ ref: String, at path: String, refs: [String]) throws -> String {
        let prefix = "#/components/schemas/"
        guard ref.hasPrefix(prefix) else {
            throw OpenAPISchemaError(message: "\(path): only `\(prefix)…` references are supported, not `\(ref)`")
        }
        let name = String(ref.dropFirst(prefix.count))
        guard !refs.contains(name) else {
            throw OpenAPISchemaError(message: "\(path): `$ref` cycle \((refs + [name]).joined(separator: " -> ")) has no finite instance")
        }
        return name
    }

    /// `hint` names the value (the property name) so generated strings are told apart;
    /// `refs` are the schemas being expanded, to stop on cycles.
    private func instance(of schema: YAMLNode, _ mode: Mode, at path: String, hint: String, refs: [String]) throws -> JSONValue {
        guard case .mapping = schema else {
            throw OpenAPISchemaError(message: "\(path): the schema is not a mapping")
        }
        if let ref = schema["$ref"] {
            guard case .scalar(.string(let ref)) = ref else {
                throw OpenAPISchemaError(message: "\(path): `$ref` is not a string")
            }
            let name = try referencedName(ref, at: path, refs: refs)
            return try instance(of: self.schema(named: name, at: path), mode, at: path, hint: hint, refs: refs + [name])
        }
        if let value = schema["const"] {
            return value.json
        }
        if let values = schema["enum"] {
            return try firstItem(of: values, key: "enum", at: path)
        }
        // Examples stand in for values the rules cannot derive, like strings with a `pattern`.
        if let values = schema["examples"] {
            return try firstItem(of: values, key: "examples", at: path)
        }
        if let value = schema["example"] {
            return value.json
        }
        if let parts = schema["allOf"] {
            guard case .sequence(let parts) = parts else {
                throw OpenAPISchemaError(message: "\(path): `allOf` is not a sequence")
            }
            var merged: [String: JSONValue] = [:]
            for (offset, part) in parts.enumerated() {
                guard case .object(let fields) = try instance(of: part, mode, at: path, hint: hint, refs: refs) else {
                    throw OpenAPISchemaError(message: "\(path): `allOf` alternative \(offset + 1) is not an object")
                }
                merged.merge(fields) { _, later in later }
            }
            return .object(merged)
        }
        for key in ["oneOf", "anyOf"] {
            if let alternatives = schema[key] {
                guard case .sequence(let alternatives) = alternatives, let first = alternatives.first else {
                    throw OpenAPISchemaError(message: "\(path): `\(key)` is not a non-empty sequence")
                }
                return try instance(of: first, mode, at: path, hint: hint, refs: refs)
            }
        }

        switch try primaryType(of: schema, at: path) {
        case "null":
            return .null
        case "boolean":
            return .bool(true)
        case "integer":
            var value = 1.0
            if let minimum = try number(schema, "minimum", at: path) {
                value = minimum
            } else if let exclusiveMinimum = try number(schema, "exclusiveMinimum", at: path) {
                value = exclusiveMinimum.rounded(.down) + 1
            }
            if let maximum = try number(schema, "maximum", at: path) { value = min(value, maximum) }
            return .number(value)
        case "number":
            var value = 1.5
            if let minimum = try number(schema, "minimum", at: path) { value = max(value, minimum) }
            if let maximum = try number(schema, "maximum", at: path) { value = min(value, maximum) }
            return .number(value)
        case "string":
            return .string(try string(for: schema, hint: hint, at: path))
        case "array":
            guard let items = schema["items"] else {
                throw OpenAPISchemaError(message: "\(path): an array schema without `items`")
            }
            return .array([try instance(of: items, mode, at: "\(path)[]", hint: hint, refs: refs)])
        case "object":
            let properties = try propertyEntries(of: schema, at: path)
            let required = Set(try requiredNames(of: schema, properties: properties, at: path))
            if !properties.isEmpty {
                var object: [String: JSONValue] = [:]
                for property in properties where mode == .full || required.contains(property.key) {
                    object[property.key] = try instance(
                        of: property.value, mode, at: "\(path).\(property.key)", hint: property.key, refs: refs)
                }
                return .object(object)
            }
            // A map (`additionalProperties: {schema}`) gets one entry; `false`/`true`/absent, none.
            if let values = schema["additionalProperties"], case .mapping = values {
                return .object(["key": try instance(of: values, mode, at: "\(path).key", hint: "key", refs: refs)])
            }
            return .object([:])
        case let other:
            throw OpenAPISchemaError(message: "\(path): unsupported type `\(other)`")
        }
    }

    /// The schema's type; for `type: [T, "null"]` the non-null T, so the instance has a value.
    private func primaryType(of schema: YAMLNode, at path: String) throws -> String {
        switch schema["type"] {
        case .scalar(.string(let type))?:
            return type
        case .sequence(let types)?:
            let names = types.compactMap { node -> String? in
                if case .scalar(.string(let name)) = node { return name }
                return nil
            }
            guard names.count == types.count, !names.isEmpty else {
                throw OpenAPISchemaError(message: "\(path): `type` must be a string or a list of strings")
            }
            return names.first { $0 != "null" } ?? "null"
        case nil:
            // Common in hand-written documents: the type is left implicit.
            if schema["properties"] != nil || schema["additionalProperties"] != nil { return "object" }
            if schema["items"] != nil { return "array" }
            throw OpenAPISchemaError(
                message: "\(path): the schema has no `type`, `$ref`, `const`, `enum`, example or composition to build a value from")
        case .some:
            throw OpenAPISchemaError(message: "\(path): `type` must be a string or a list of strings")
        }
    }

    private func string(for schema: YAMLNode, hint: String, at path: String) throws -> String {
        switch schema["format"] {
        case .scalar(.string("date-time"))?: return "2026-11-30T10:00:00Z"
        case .scalar(.string("date"))?: return "2026-11-30"
        case .scalar(.string("uri"))?, .scalar(.string("url"))?: return "https://gateway.example.com/x"
        case .scalar(.string("uuid"))?: return "7f1d0a2e-4c3b-4e8a-9b6d-2f5c8e1a3b4c"
        case .scalar(.string("email"))?: return "someone@example.com"
        default: break
        }
        var value = "value-of-\(hint)"
        if let minLength = try number(schema, "minLength", at: path), value.count < Int(minLength) {
            value += String(repeating: "x", count: Int(minLength) - value.count)
        }
        if let maxLength = try number(schema, "maxLength", at: path), value.count > Int(maxLength) {
            value = String(value.prefix(Int(maxLength)))
        }
        return value
    }

    private func number(_ schema: YAMLNode, _ key: String, at path: String) throws -> Double? {
        switch schema[key] {
        case nil: return nil
        case .scalar(.number(let value))?: return value
        case .some: throw OpenAPISchemaError(message: "\(path): `\(key)` is not a number")
        }
    }

    private func firstItem(of values: YAMLNode, key: String, at path: String) throws -> JSONValue {
        guard case .sequence(let values) = values, let first = values.first else {
            throw OpenAPISchemaError(message: "\(path): `\(key)` is not a non-empty sequence")
        }
        return first.json
    }

    private func propertyEntries(of schema: YAMLNode, at path: String) throws -> [YAMLEntry] {
        switch schema["properties"] {
        case nil: return []
        case .mapping(let entries)?: return entries
        case .some: throw OpenAPISchemaError(message: "\(path): `properties` is not a mapping")
        }
    }

    /// The `required` list; a name missing from `properties` is a mistake in the document.
    private func requiredNames(of schema: YAMLNode, properties: [YAMLEntry], at path: String) throws -> [String] {
        guard let required = schema["required"] else { return [] }
        guard case .sequence(let items) = required else {
            throw OpenAPISchemaError(message: "\(path): `required` is not a sequence")
        }
        let known = Set(properties.map(\.key))
        return try items.map { item in
            guard case .scalar(.string(let name)) = item else {
                throw OpenAPISchemaError(message: "\(path): `required` holds something other than a name")
            }
            guard known.contains(name) else {
                throw OpenAPISchemaError(message: "\(path): required property `\(name)` is not under `properties`")
            }
            return name
        }
    }
}

// MARK: - YAML

/// A node of the YAML tree. Mappings keep document order (schema names, property order).
private indirect enum YAMLNode: Sendable {
    case scalar(JSONValue)
    case sequence([YAMLNode])
    case mapping([YAMLEntry])

    subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    var json: JSONValue {
        switch self {
        case .scalar(let value): value
        case .sequence(let items): .array(items.map(\.json))
        case .mapping(let entries): .object(Dictionary(entries.map { ($0.key, $0.value.json) }) { first, _ in first })
        }
    }
}

private struct YAMLEntry: Sendable {
    var key: String
    var value: YAMLNode
}

private struct YAMLLine {
    let number: Int
    /// Leading spaces; moved right when a `- ` item's content is re-read as a node of its own.
    var indent: Int
    /// The line without indentation and trailing whitespace.
    var text: Substring
    /// The whole line, for block scalars, whose text is kept as written.
    let raw: String
    /// A tab in the indentation: YAML forbids it, and counting it would be a guess.
    let tabIndented: Bool

    var isBlankOrComment: Bool { text.isEmpty || text.hasPrefix("#") }
    var isSequenceItem: Bool { text == "-" || text.hasPrefix("- ") }
}

/// Block mappings and sequences by indentation, one-line flow collections of scalars, plain and
/// quoted scalars, `|`/`>` block scalars and comments. No anchors, tags, multi-line flow or
/// quoted scalars, or multi-line plain scalars: those throw with the line number.
private struct YAMLReader {
    private var lines: [YAMLLine]
    private var index = 0

    init(_ text: String) {
        // Split on scalars, not Characters: "\r\n" is a single Character.
        let rawLines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        lines = rawLines.enumerated().map { offset, scalars in
            var raw = String(String.UnicodeScalarView(scalars))
            if raw.hasSuffix("\r") { raw.removeLast() }
            let indent = raw.prefix { $0 == " " }.count
            let afterIndent = raw.dropFirst(indent)
            let text = afterIndent.trimmingWhitespace()
            return YAMLLine(
                number: offset + 1, indent: indent, text: text, raw: raw,
                tabIndented: afterIndent.first == "\t" && !text.isEmpty)
        }
    }

    mutating func readDocument() throws -> YAMLNode {
        guard let first = try nextContentLine() else { return .scalar(.null) }
        if first.text == "---" || first.text.hasPrefix("%") {
            throw error(first, "document markers and directives are not supported")
        }
        let root = try readNode()
        if let extra = try nextContentLine() {
            throw error(extra, "unexpected content after the document (check its indentation)")
        }
        return root
    }

    // MARK: Block structure

    /// Skips blank and comment lines and returns the next one without consuming it.
    private mutating func nextContentLine() throws -> YAMLLine? {
        while index < lines.count, lines[index].isBlankOrComment { index += 1 }
        guard index < lines.count else { return nil }
        if lines[index].tabIndented { throw error(lines[index], "tab in indentation") }
        return lines[index]
    }

    /// The node starting at the next content line, at that line's indentation.
    private mutating func readNode() throws -> YAMLNode {
        guard let line = try nextContentLine() else { return .scalar(.null) }
        if line.isSequenceItem { return try readSequence(indent: line.indent) }
        if try splitEntry(line) != nil { return try readMapping(indent: line.indent) }
        index += 1
        return try readInlineValue(line.text, line: line)
    }

    private mutating func readMapping(indent: Int) throws -> YAMLNode {
        var entries: [YAMLEntry] = []
        var lineOfKey: [String: Int] = [:]
        while let line = try nextContentLine(), line.indent >= indent {
            guard line.indent == indent else {
                throw error(
                    line,
                    """
                    unexpected indentation: \(line.indent) spaces where this mapping's keys have \(indent) \
                    (a plain value cannot continue on the next line)
                    """)
            }
            guard let (key, rest) = try splitEntry(line) else {
                throw error(
                    line,
                    line.isSequenceItem
                        ? "a sequence item where a mapping key was expected"
                        : "expected `key: value` (a plain scalar cannot continue on the next line)")
            }
            if let first = lineOfKey[key] {
                throw error(line, "duplicate key `\(key)` (first on line \(first))")
            }
            lineOfKey[key] = line.number
            index += 1
            entries.append(YAMLEntry(key: key, value: try readValue(rest, line: line, parentIndent: indent, isMappingValue: true)))
        }
        return .mapping(entries)
    }

    private mutating func readSequence(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        while let line = try nextContentLine(), line.indent == indent, line.isSequenceItem {
            let afterDash = line.text.dropFirst()
            let spaces = afterDash.prefix { $0 == " " }.count
            let content = afterDash.dropFirst(spaces)
            if content.isEmpty || content.hasPrefix("#") || content.hasPrefix("|") || content.hasPrefix(">") {
                index += 1
                items.append(try readValue(content, line: line, parentIndent: indent, isMappingValue: false))
            } else {
                // `- key: v` starts a mapping whose keys line up with `key`: re-read the line as if
                // the dash were a space, so the following keys continue that mapping.
                lines[index].indent = indent + 1 + spaces
                lines[index].text = content
                items.append(try readNode())
            }
        }
        return .sequence(items)
    }

    /// The value after `key:` or `-`: inline, a block scalar, or a nested node on the next lines.
    private mutating func readValue(
        _ rest: Substring, line: YAMLLine, parentIndent: Int, isMappingValue: Bool
    ) throws -> YAMLNode {
        let rest = rest.drop { $0 == " " }
        if rest.first == "|" || rest.first == ">" {
            return try readBlockScalar(header: rest, line: line, parentIndent: parentIndent)
        }
        guard rest.isEmpty || rest.hasPrefix("#") else { return try readInlineValue(rest, line: line) }
        guard let next = try nextContentLine() else { return .scalar(.null) }
        if next.indent > parentIndent { return try readNode() }
        // `key:` followed by `- item` lines at the key's own indentation.
        if isMappingValue, next.indent == parentIndent, next.isSequenceItem {
            return try readSequence(indent: parentIndent)
        }
        return .scalar(.null)
    }

    /// `|` keeps line breaks, `>` folds them into spaces; `-`/`+` strip/keep the final ones.
    private mutating func readBlockScalar(header: Substring, line: YAMLLine, parentIndent: Int) throws -> YAMLNode {
        let style = header.first
        var indicators = header.dropFirst()
        var chomping: Character?
        if let first = indicators.first, first == "-" || first == "+" {
            chomping = first
            indicators = indicators.dropFirst()
        }
        let trailing = indicators.drop { $0 == " " }
        guard trailing.isEmpty || (trailing.hasPrefix("#") && indicators.first == " ") else {
            throw error(line, "unsupported block scalar header `\(header)` (only |, |-, |+, >, >-, >+)")
        }
        var body: [Substring] = []
        var contentIndent: Int?
        while index < lines.count {
            let current = lines[index]
            if current.text.isEmpty {
                body.append("")
            } else {
                if current.indent <= parentIndent { break }
                let indent = contentIndent ?? current.indent
                guard current.indent >= indent else {
                    throw error(current, "block scalar line is indented less than its first line")
                }
                contentIndent = indent
                body.append(current.raw.dropFirst(indent))
            }
            index += 1
        }
        let trailingBlanks = body.reversed().prefix { $0.isEmpty }.count
        let content = Array(body.dropLast(trailingBlanks))
        var text = style == "|" ? content.joined(separator: "\n") : folded(content)
        switch chomping {
        case "-"?: break
        case "+"?: text += String(repeating: "\n", count: (content.isEmpty ? 0 : 1) + trailingBlanks)
        default: if !content.isEmpty { text += "\n" }
        }
        return .scalar(.string(text))
    }

    /// Folding of `>`: lines join with a space, an empty line stands for a line break, and
    /// more-indented lines keep their breaks.
    private func folded(_ content: [Substring]) -> String {
        var text = ""
        var started = false
        var blanks = 0
        var previousMoreIndented = false
        for line in content {
            if line.isEmpty {
                blanks += 1
                continue
            }
            let moreIndented = line.first == " "
            if !started {
                text += String(repeating: "\n", count: blanks)
            } else if blanks > 0 {
                text += String(repeating: "\n", count: blanks + (moreIndented || previousMoreIndented ? 1 : 0))
            } else {
                text += moreIndented || previousMoreIndented ? "\n" : " "
            }
            text += line
            started = true
            blanks = 0
            previousMoreIndented = moreIndented
        }
        return text
    }

    // MARK: One line

    /// `key: rest` (or `key:` at the end of the line); nil when the line is not a mapping entry.
    private func splitEntry(_ line: YAMLLine) throws -> (key: String, rest: Substring)? {
        let text = line.text
        guard let first = text.first, !line.isSequenceItem else { return nil }
        if first == "\"" || first == "'" {
            var cursor = YAMLCursor(text)
            let key = try readQuoted(&cursor, line: line)
            let after = cursor.remainder
            guard after.first == ":", after.count == 1 || after.dropFirst().first == " " else { return nil }
            return (key, after.dropFirst())
        }
        if "[{&*!|>%@`?#".contains(first) { return nil }
        var previous: Character = " "
        for position in text.indices {
            let character = text[position]
            if character == "#", previous == " " { return nil } // a comment before any `: `
            if character == ":" {
                let next = text.index(after: position)
                if next == text.endIndex || text[next] == " " {
                    return (String(text[..<position].trimmingWhitespace()), text[next...])
                }
            }
            previous = character
        }
        return nil
    }

    /// A value written on the line itself: a quoted or plain scalar, or a flow collection.
    private func readInlineValue(_ text: Substring, line: YAMLLine) throws -> YAMLNode {
        guard let first = text.first else { return .scalar(.null) }
        switch first {
        case "\"", "'":
            var cursor = YAMLCursor(text)
            let value = try readQuoted(&cursor, line: line)
            try expectLineEnd(cursor, line: line)
            return .scalar(.string(value))
        case "[", "{":
            var cursor = YAMLCursor(text)
            let value = try readFlow(&cursor, line: line)
            try expectLineEnd(cursor, line: line)
            return value
        case "&", "*", "!", "%", "@", "`":
            throw error(line, "`\(first)` starts an anchor, alias, tag or reserved indicator; not supported (quote the value)")
        default:
            if text.hasPrefix("- ") || text.hasPrefix("? ") || text == "?" {
                throw error(line, "`\(first)` cannot start a value here")
            }
            var plain = text
            if let comment = plain.firstRange(of: " #") { plain = plain[..<comment.lowerBound] }
            plain = plain.trimmingWhitespace()
            // YAML would reject it too; quoting is the clear way to write such a value.
            if plain.contains(": ") || plain.hasSuffix(":") {
                throw error(line, "a plain value contains `: `; quote it")
            }
            return .scalar(Self.plainScalar(plain))
        }
    }

    /// Text after a quoted scalar or flow collection may only be a comment.
    private func expectLineEnd(_ cursor: YAMLCursor, line: YAMLLine) throws {
        let rest = cursor.remainder
        let trimmed = rest.drop { $0 == " " }
        guard trimmed.isEmpty || (trimmed.hasPrefix("#") && rest.first == " ") else {
            throw error(line, "unexpected text after the value: `\(rest)`")
        }
    }

    /// A quoted scalar that ends on this line; double quotes take YAML's escapes.
    private func readQuoted(_ cursor: inout YAMLCursor, line: YAMLLine) throws -> String {
        guard let quote = cursor.next() else { throw error(line, "expected a quoted scalar") }
        var value = String.UnicodeScalarView()
        while let scalar = cursor.next() {
            if quote == "'" {
                guard scalar == "'" else {
                    value.append(scalar)
                    continue
                }
                if cursor.peek == "'" { // '' is a single quote
                    cursor.advance()
                    value.append("'")
                    continue
                }
                return String(value)
            }
            if scalar == "\"" { return String(value) }
            if scalar == "\\" {
                value.append(try readEscape(&cursor, line: line))
            } else {
                value.append(scalar)
            }
        }
        throw error(line, "the quoted scalar does not end on this line (multi-line quoted scalars are not supported)")
    }

    private func readEscape(_ cursor: inout YAMLCursor, line: YAMLLine) throws -> Unicode.Scalar {
        guard let escape = cursor.next() else { throw error(line, "the line ends inside an escape") }
        switch escape {
        case "\"", "\\", "/", " ": return escape
        case "0": return "\0"
        case "a": return "\u{07}"
        case "b": return "\u{08}"
        case "t", "\t": return "\t"
        case "n": return "\n"
        case "v": return "\u{0B}"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "N": return "\u{85}"
        case "_": return "\u{A0}"
        case "L": return "\u{2028}"
        case "P": return "\u{2029}"
        case "x": return try readHexEscape(&cursor, digits: 2, line: line)
        case "U": return try readHexEscape(&cursor, digits: 8, line: line)
        case "u":
            let unit = try readHexValue(&cursor, digits: 4, line: line)
            guard (0xD800...0xDBFF).contains(unit) else {
                guard let scalar = Unicode.Scalar(unit) else { throw error(line, "lone surrogate in `\\u` escape") }
                return scalar
            }
            // A UTF-16 surrogate pair written as two escapes, as JSON does.
            guard cursor.next() == "\\", cursor.next() == "u" else { throw error(line, "lone surrogate in `\\u` escape") }
            let low = try readHexValue(&cursor, digits: 4, line: line)
            guard (0xDC00...0xDFFF).contains(low),
                let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            else { throw error(line, "invalid surrogate pair in `\\u` escapes") }
            return scalar
        default:
            throw error(line, "unknown escape `\\\(escape)` in a double-quoted scalar")
        }
    }

    private func readHexEscape(_ cursor: inout YAMLCursor, digits: Int, line: YAMLLine) throws -> Unicode.Scalar {
        guard let scalar = Unicode.Scalar(try readHexValue(&cursor, digits: digits, line: line)) else {
            throw error(line, "escape is not a Unicode scalar")
        }
        return scalar
    }

    private func readHexValue(_ cursor: inout YAMLCursor, digits: Int, line: YAMLLine) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let scalar = cursor.next(), let digit = Character(scalar).hexDigitValue else {
                throw error(line, "expected \(digits) hex digits in an escape")
            }
            value = value * 16 + UInt32(digit)
        }
        return value
    }

    /// `[a, "b", 'c']` or `{k: v}` on one line, of scalars only.
    private func readFlow(_ cursor: inout YAMLCursor, line: YAMLLine) throws -> YAMLNode {
        let isSequence = cursor.next() == "["
        let close: Unicode.Scalar = isSequence ? "]" : "}"
        var items: [YAMLNode] = []
        var entries: [YAMLEntry] = []
        while true {
            cursor.skipSpaces()
            if cursor.peek == close { // empty, or a trailing comma
                cursor.advance()
                break
            }
            if isSequence {
                items.append(try readFlowScalar(&cursor, isKey: false, line: line))
            } else {
                guard case .scalar(let keyValue) = try readFlowScalar(&cursor, isKey: true, line: line),
                    case .string(let key) = keyValue.asKey
                else { throw error(line, "a flow mapping key must be a scalar") }
                cursor.skipSpaces()
                guard cursor.next() == ":" else { throw error(line, "expected `:` after `\(key)` in a flow mapping") }
                guard !entries.contains(where: { $0.key == key }) else { throw error(line, "duplicate key `\(key)`") }
                entries.append(YAMLEntry(key: key, value: try readFlowScalar(&cursor, isKey: false, line: line)))
            }
            cursor.skipSpaces()
            let separator = cursor.next()
            if separator == "," { continue }
            if separator == close { break }
            guard let separator else {
                throw error(line, "the flow collection does not close on this line (multi-line flow is not supported)")
            }
            throw error(line, "unexpected `\(separator)` in a flow collection")
        }
        return isSequence ? .sequence(items) : .mapping(entries)
    }

    private func readFlowScalar(_ cursor: inout YAMLCursor, isKey: Bool, line: YAMLLine) throws -> YAMLNode {
        cursor.skipSpaces()
        switch cursor.peek {
        case nil:
            throw error(line, "the flow collection does not close on this line (multi-line flow is not supported)")
        case "\""?, "'"?:
            return .scalar(.string(try readQuoted(&cursor, line: line)))
        case "["?, "{"?:
            throw error(line, "nested flow collections are not supported")
        case ","?, "]"?, "}"?, "#"?:
            throw error(line, "empty entry in a flow collection")
        default:
            var text = String.UnicodeScalarView()
            while let scalar = cursor.peek, !",[]{}".unicodeScalars.contains(scalar) {
                if scalar == "#", text.last == " " { break } // a comment: the collection never closes
                if scalar == ":", isKey, cursor.peek(offset: 1) == " " || cursor.peek(offset: 1) == nil { break }
                text.append(scalar)
                cursor.advance()
            }
            return .scalar(Self.plainScalar(Substring(String(text)).trimmingWhitespace()))
        }
    }

    /// YAML 1.2 core schema: null, booleans, integers and floats; anything else is a string
    /// (`0.1.0` stays a string).
    private static func plainScalar(_ text: Substring) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .number(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .number(-.infinity)
        case ".nan", ".NaN", ".NAN": return .number(.nan)
        default: break
        }
        if text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) { return .number(Double(value)) }
        if text.hasPrefix("0o"), let value = Int(text.dropFirst(2), radix: 8) { return .number(Double(value)) }
        let numeric = text.allSatisfy { "0123456789+-.eE".contains($0) } && text.contains { $0.isASCII && $0.isNumber }
        if numeric, let value = Double(text) { return .number(value) }
        return .string(String(text))
    }

    private func error(_ line: YAMLLine, _ message: String) -> OpenAPISchemaError {
        OpenAPISchemaError(line: line.number, message: message)
    }
}

private extension JSONValue {
    /// Flow mapping keys are strings even when they look like numbers.
    var asKey: JSONValue {
        switch self {
        case .string: self
        case .null: .string("")
        case .bool(let value): .string(String(value))
        case .number(let value): .string(value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value))
        case .array, .object: self
        }
    }
}

/// Reads a line scalar by scalar (escapes and quotes are defined on scalars, not Characters).
private struct YAMLCursor {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ text: Substring) { scalars = Array(text.unicodeScalars) }

    var peek: Unicode.Scalar? { peek(offset: 0) }
    func peek(offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }
    mutating func advance() { position += 1 }
    mutating func next() -> Unicode.Scalar? {
        defer { position += 1 }
        return peek
    }
    mutating func skipSpaces() {
        while peek == " " { advance() }
    }
    var remainder: Substring {
        Substring(String(String.UnicodeScalarView(scalars[min(position, scalars.count)...])))
    }
}

private extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
