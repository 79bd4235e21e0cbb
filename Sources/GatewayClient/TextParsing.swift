import Foundation

/// Invite codes as people paste them: the whole invite URL or the code alone.
public enum InviteCode {
    public static func parse(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var code = trimmed
        if trimmed.contains("://"), let components = URLComponents(string: trimmed) {
            let segments = components.path.split(separator: "/")
            guard let index = segments.lastIndex(of: "invite"), index + 1 < segments.endIndex else {
                throw GatewayClientError.usage("\(trimmed) is not an invite URL (…/invite/<code>)")
            }
            code = String(segments[index + 1])
        }
        guard !code.isEmpty, !code.contains("/"), !code.contains(" ") else {
            throw GatewayClientError.usage("\"\(trimmed)\" is not an invite URL or code")
        }
        return code
    }
}

/// Durations as people type them: `90`, `90s`, `30m`, `12h`, `7d`, `2w`.
public enum DurationText {
    public static func seconds(_ text: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var number = text.trimmingCharacters(in: .whitespaces).lowercased()
        var unit = 1
        if let last = number.last, let multiplier = units[last] {
            unit = multiplier
            number.removeLast()
        }
        guard let value = Int(number), value > 0, value <= Int.max / unit else {
            throw GatewayClientError.usage("\(text) is not a duration: use a number with s, m, h, d or w, e.g. 30m or 7d")
        }
        return value * unit
    }
}

/// Text from the gateway (agent names, replies, display names, error details) on its way to a
/// terminal. Anyone who can name an agent or write a reply could otherwise send escape
/// sequences: retitle the window (OSC 0), write the clipboard (OSC 52), clear the screen.
public enum TerminalText {
    /// Drops C0 and C1 control characters (ESC, BEL, CSI, CR, …) except newline and tab.
    public static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isRefused) else { return text }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: text.unicodeScalars.lazy.filter { !isRefused($0) })
        return String(result)
    }

    static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t"
    }
}
