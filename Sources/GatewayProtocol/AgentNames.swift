import Foundation

// Names AI clients show for an agent: MCP tool names and OpenAI-compatible model ids. Both are
// the agent's name made safe plus the start of its id, so they read well in a model picker or a
// tool list, stay the same across listings and replicas, and differ for two agents with the
// same name (docs/clients.md).
extension AgentView {
    /// The name in lower case, runs of anything but `a-z0-9` as one `separator`, none at either
    /// end, at most `maximumLength` characters ("agent" when nothing is left), then `separator`
    /// and the first 8 letters and digits of the id: `release_notes_2b7c1a3f` (MCP),
    /// `release-notes-2b7c1a3f` (models).
    public func readableID(separator: Character, maximumLength: Int = 40) -> String {
        var slug = ""
        for scalar in name.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty && slug.last != separator {
                slug.append(separator)
            }
        }
        // Cut first, then trim: a cut that ends on a separator must not double it.
        slug = String(slug.prefix(maximumLength))
        while slug.last == separator { slug.removeLast() }
        if slug.isEmpty { slug = "agent" }
        let suffix = id.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(8)
        return "\(slug)\(separator)\(suffix)"
    }

    /// The agent's model id on the OpenAI-compatible API (its UUID is accepted too).
    public var modelID: String { readableID(separator: "-") }
}
