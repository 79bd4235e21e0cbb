import Foundation
import Testing

@testable import GatewayConfig

/// Docs must match the code: every variable the gateway reads is in the README's table, and
/// the table names no variable the gateway does not read.
@Suite("Documentation matches the configuration module")
struct DocumentationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeConfigurationTableListsExactlyTheVariables() throws {
        let readme = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Configuration").dropFirst().first)
            .components(separatedBy: "\n## ").first!
        let documented = Set(
            section.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `") else { return nil }
                return line.dropFirst(3).split(separator: "`").first.map(String.init)
            })
        #expect(documented == Set(ConfigurationVariable.all.map(\.name)))
    }
}
