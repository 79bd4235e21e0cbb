/// Rules for text one person writes and other people, their terminals and their AI clients read
/// (names, descriptions, replies). Such text is hostile until shown otherwise.
public enum PersonText {
    /// Control characters (Unicode Cc: C0, DEL, C1) carry terminal escape sequences; hidden
    /// format characters (Cf: bidi overrides and isolates, zero-width spaces, word joiners, tag
    /// characters U+E0000-E007F, soft hyphens, BOM) hide or reorder text, so what a person (or a
    /// model reading a tool list) sees is not what is there. Names and descriptions refuse both.
    /// Zero-width joiner and non-joiner stay: emoji sequences and Persian and Indic scripts need
    /// them, and they cannot reorder or hide text.
    public static func isRefusedInNames(_ scalar: Unicode.Scalar, allowingLineBreaks: Bool = false) -> Bool {
        switch scalar.properties.generalCategory {
        case .control: return !(allowingLineBreaks && (scalar == "\n" || scalar == "\t"))
        case .format: return scalar != "\u{200C}" && scalar != "\u{200D}"
        default: return false
        }
    }

    /// The first character a name or description may not hold, or nil.
    public static func refusedCharacter(in text: String, allowingLineBreaks: Bool = false) -> Unicode.Scalar? {
        text.unicodeScalars.first { isRefusedInNames($0, allowingLineBreaks: allowingLineBreaks) }
    }

    /// `text` without the characters names may not hold: for showing text stored before the
    /// rule, and names that come from elsewhere (an identity provider, a client's metadata).
    public static func displayable(_ text: String, allowingLineBreaks: Bool = false) -> String {
        guard refusedCharacter(in: text, allowingLineBreaks: allowingLineBreaks) != nil else { return text }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: text.unicodeScalars.lazy.filter { !isRefusedInNames($0, allowingLineBreaks: allowingLineBreaks) })
        return String(kept)
    }

    /// Reply text for clients that may print it in a terminal (MCP, OpenAI-compatible): C0 and C1
    /// control characters (ESC, BEL, CSI, CR, OSC 52 …) are dropped, newline and tab kept, as
    /// `gatewayctl` does. Everything else of the reply is the agent's and stays.
    public static func withoutControlCharacters(_ text: String) -> String {
        func refused(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t"
        }
        guard text.unicodeScalars.contains(where: refused) else { return text }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: text.unicodeScalars.lazy.filter { !refused($0) })
        return String(kept)
    }
}
