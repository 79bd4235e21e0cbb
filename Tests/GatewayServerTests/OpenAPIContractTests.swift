import Foundation
import GatewayConfig
import GatewayProtocol
import GatewayServer
import Testing

/// docs/openapi.yaml must describe exactly the routes the gateway serves, secure every `/v1` and `/mcp`
/// operation with the bearer scheme (and nothing else), and name only problem types the code
/// produces. The YAML is read with a minimal line-based reader (no dependency): under `paths:`,
/// a line of two spaces then `/…:` is a path, four spaces then `get:` (etc.) an operation.
@Suite("OpenAPI document matches the gateway's routes")
struct OpenAPIContractTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let methods: Set<String> = ["get", "put", "post", "patch", "delete", "options", "head"]

    /// One documented operation and the lines of its block (everything indented under it).
    struct Operation {
        let method: String
        let path: String
        var lines: [String]

        var key: String { "\(method) \(path)" }
    }

    struct Document {
        let text: String
        let operations: [Operation]
        /// The top-level `security:` requirement names, if any.
        let globalSecurity: [String]
    }

    static func loadDocument() throws -> Document {
        let url = repositoryRoot.appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        return parse(text)
    }

    static func indentation(of line: Substring) -> Int { line.prefix { $0 == " " }.count }

    static func isBlankOrComment(_ line: Substring) -> Bool {
        let trimmed = line.drop { $0 == " " }
        return trimmed.isEmpty || trimmed.hasPrefix("#")
    }

    static func parse(_ text: String) -> Document {
        var operations: [Operation] = []
        var globalSecurity: [String] = []
        var inPaths = false
        var inGlobalSecurity = false
        var currentPath: String?
        var current: Int? // index of the operation whose block is being read
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if isBlankOrComment(line) { continue }
            let indent = indentation(of: line)
            let content = line.dropFirst(indent)
            if indent == 0 {
                inPaths = content.hasPrefix("paths:")
                inGlobalSecurity = content.hasPrefix("security:")
                if inGlobalSecurity { globalSecurity += requirementNames(in: String(content.dropFirst("security:".count))) }
                currentPath = nil
                current = nil
                continue
            }
            if inGlobalSecurity {
                globalSecurity += requirementNames(in: String(content))
                continue
            }
            guard inPaths else { continue }
            switch indent {
            case 2:
                currentPath = content.hasPrefix("/") && content.hasSuffix(":") ? String(content.dropLast()) : nil
                current = nil
            case 4:
                // An operation, or a path-level key (`parameters:`, `summary:`…) ending the last one.
                current = nil
                if let path = currentPath, content.hasSuffix(":"), methods.contains(String(content.dropLast())) {
                    operations.append(Operation(method: String(content.dropLast()).uppercased(), path: path, lines: []))
                    current = operations.count - 1
                }
            default:
                if let current { operations[current].lines.append(String(line)) }
            }
        }
        return Document(text: text, operations: operations, globalSecurity: globalSecurity)
    }

    /// Names in a security requirement line: `- bearerAuth: []`, `[{bearerAuth: []}]`.
    static func requirementNames(in line: String) -> [String] {
        let pattern = /([A-Za-z][A-Za-z0-9_]*)\s*:\s*\[/
        return line.matches(of: pattern).map { String($0.output.1) }
    }

    /// The security scheme names an operation requires (nil when it has no `security:` key).
    static func security(of operation: Operation) -> [String]? {
        guard let start = operation.lines.firstIndex(where: { $0.drop { $0 == " " }.hasPrefix("security:") }) else { return nil }
        let header = operation.lines[start]
        let headerIndent = indentation(of: Substring(header))
        var names = header.contains("[") ? requirementNames(in: String(header.drop { $0 == " " }.dropFirst("security:".count))) : []
        for line in operation.lines[(start + 1)...] {
            if indentation(of: Substring(line)) <= headerIndent { break }
            names += requirementNames(in: line)
        }
        return names
    }

    static func normalise(_ route: String) -> String {
        let parts = route.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return route }
        var path = String(parts[1])
        if !path.hasPrefix("/") { path = "/" + path }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        // Hummingbird describes captures as `{name}`; tolerate `:name` too.
        path = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
        return "\(parts[0].uppercased()) \(path)"
    }

    /// Every route of every sign-in mode (the OIDC callback exists only in oidc mode).
    static func servedRoutes() async throws -> Set<String> {
        var routes: Set<String> = []
        for extra in [[:], ["AUTH_MODE": "oidc", "OIDC_ISSUER_URL": "https://id.example.com", "OIDC_CLIENT_ID": "gateway"]] {
            let configuration = try Gateway.loadConfiguration(
                mode: .dev, environment: ["DATABASE_URL": "sqlite::memory:"].merging(extra) { $1 })
            let dependencies = try await GatewayDependencies.inMemory(configuration: configuration)
            routes.formUnion(Gateway.buildRouter(dependencies).routes.map { normalise("\($0.method.rawValue) \($0.path)") })
            await dependencies.close()
        }
        return routes
    }

    @Test func theDocumentListsExactlyTheServedRoutes() async throws {
        let document = try Self.loadDocument()
        let served = try await Self.servedRoutes()
        #expect(!served.isEmpty)
        #expect(served.contains("GET /v1/devices/{deviceID}"), "route list format changed: \(served.sorted())")

        var documented: Set<String> = []
        var duplicates: [String] = []
        for operation in document.operations {
            let key = Self.normalise(operation.key)
            if !documented.insert(key).inserted { duplicates.append(key) }
        }
        #expect(duplicates.isEmpty, "operations documented twice: \(duplicates)")

        let missing = served.subtracting(documented).sorted()
        let extra = documented.subtracting(served).sorted()
        #expect(missing.isEmpty, "routes the gateway serves that docs/openapi.yaml does not document:\n\(missing.joined(separator: "\n"))")
        #expect(extra.isEmpty, "operations docs/openapi.yaml documents that the gateway does not serve:\n\(extra.joined(separator: "\n"))")
    }

    @Test func everyV1OperationRequiresTheBearerTokenAndNothingElseDoes() throws {
        let document = try Self.loadDocument()
        #expect(document.text.contains("\n  securitySchemes:\n    bearerAuth:\n"), "components.securitySchemes.bearerAuth is missing")
        #expect(document.operations.count > 30, "the minimal reader found only \(document.operations.count) operations")
        var unsecured: [String] = []
        var securedOutsideV1: [String] = []
        for operation in document.operations {
            let names = Self.security(of: operation) ?? document.globalSecurity
            if operation.path.hasPrefix("/v1/") || operation.path == "/mcp" {
                if !names.contains("bearerAuth") { unsecured.append(operation.key) }
            } else if !names.isEmpty {
                securedOutsideV1.append(operation.key)
            }
        }
        #expect(unsecured.isEmpty, "/v1 and /mcp operations without bearerAuth security: \(unsecured)")
        #expect(securedOutsideV1.isEmpty, "operations outside /v1 need no token but declare security: \(securedOutsideV1)")
    }

    @Test func everyPathParameterIsDeclared() throws {
        let document = try Self.loadDocument()
        let lines = document.text.split(separator: "\n").map(String.init)
        var undeclared: [String] = []
        for path in Set(document.operations.map(\.path)) {
            let names = path.matches(of: /\{([A-Za-z0-9_]+)\}/).map { String($0.output.1) }
            guard !names.isEmpty else { continue }
            // The path's block: from `  /path:` to the next path.
            guard let start = lines.firstIndex(of: "  \(path):") else { continue }
            let block = lines[(start + 1)...].prefix { !($0.hasPrefix("  /") || (!$0.hasPrefix(" ") && !$0.isEmpty)) }
            let text = block.joined(separator: "\n")
            for name in names {
                let reference = "#/components/parameters/\(Self.componentName(forParameter: name))"
                if !text.contains("name: \(name)\n") && !text.contains(reference) { undeclared.append("\(path) {\(name)}") }
            }
        }
        #expect(undeclared.isEmpty, "path parameters without a declaration: \(undeclared)")
    }

    /// `deviceID` is declared as `#/components/parameters/DeviceID`, `code` as `InviteCode`.
    static func componentName(forParameter name: String) -> String {
        name == "code" ? "InviteCode" : name.prefix(1).uppercased() + name.dropFirst()
    }

    @Test func documentedProblemTypesExistInTheCode() throws {
        let document = try Self.loadDocument()
        let slugs = Set(document.text.matches(of: /urn:agent-gateway:problem:([a-z0-9][a-z0-9-]*)/).map { String($0.output.1) })
        #expect(slugs.count >= 10, "expected problem type examples in the document, found \(slugs.sorted())")
        // The server can only answer with a `ProblemType`; a documented type must be one.
        let unknown = slugs.filter { ProblemType(rawValue: $0) == nil }.sorted()
        #expect(unknown.isEmpty, "problem types documented but not in ProblemType: \(unknown)")
    }
}
