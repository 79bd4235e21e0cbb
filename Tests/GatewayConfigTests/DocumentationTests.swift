import Foundation
import Testing

@testable import GatewayConfig

/// Docs must match the code. (The README's variable table is checked in GatewayServerTests, which
/// sees every connector's variables.)
@Suite("Documentation matches the configuration module")
struct DocumentationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// docs/architecture.md's module tables name exactly the package's targets (test targets are
    /// one row, `Tests/<Module>Tests`), so a module added or removed shows up there.
    @Test func architectureListsExactlyThePackagesTargets() throws {
        let package = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let architecture = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        func names(_ pattern: String, in text: String) throws -> Set<String> {
            let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
            return Set(
                regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
                    Range($0.range(at: 1), in: text).map { String(text[$0]) }
                })
        }
        let targets = try names(#"\.(?:target|executableTarget)\(\s*name:\s*"([^"]+)""#, in: package)
        // The module tables ("| Target | Depends on … |"), not the client library's piece table after them.
        let moduleTables = architecture.components(separatedBy: "| Piece |").first ?? ""
        let documented = try names(#"^\| `([^`<]+)`(?: \([^)]*\))? \|"#, in: moduleTables)
            .filter { !$0.contains(" ") && !$0.contains("/") && !$0.contains(",") }
        #expect(targets.count > 15, "no targets found in Package.swift")
        #expect(
            targets.subtracting(documented).isEmpty,
            "targets missing from docs/architecture.md: \(targets.subtracting(documented).sorted())")
        #expect(
            documented.subtracting(targets).isEmpty, "documented modules that are not targets: \(documented.subtracting(targets).sorted())")
    }
}
