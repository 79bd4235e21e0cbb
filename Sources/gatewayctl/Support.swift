import ArgumentParser
import Foundation
import GatewayAgentBackends
import GatewayClient
import GatewayProtocol
import TerminalQRCode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options every command that talks to the gateway takes.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where tokens and the device id are kept (default: $GATEWAYCTL_CONFIG_DIR, else $XDG_CONFIG_HOME/gatewayctl, else ~/.config/gatewayctl).",
            valueName: "dir"))
    var configDir: String?

    var directory: ConfigDirectory { ConfigDirectory.resolve(explicit: configDir) }

    func api() throws -> GatewayAPI { try GatewayAPI(directory: directory) }
}

struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}

/// Runs a command body; a ``GatewayClientError`` becomes one line on stderr and its exit status.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as GatewayClientError {
        Terminal.error(error.description)
        throw ExitCode(error.exitCode)
    } catch let error as SubprocessError {
        Terminal.error(error.description)
        throw ExitCode(ExitStatus.failure)
    }
}

/// Writing to the terminal (or whatever stdout is): every write is flushed, so streamed reply
/// pieces and status lines appear at once even through a pipe. Every text passes through
/// `TerminalText.sanitized`, so nothing the gateway relays can send escape sequences; only
/// `redrawStatus` and `qrCode` add gatewayctl's own.
enum Terminal {
    static let isTTY = isatty(STDOUT_FILENO) == 1
    private static let lock = NSLock()

    static func write(_ text: String) {
        lock.withLock { writeAll(STDOUT_FILENO, TerminalText.sanitized(text)) }
    }

    /// Clears the status line, prints `message` above it and redraws it dimmed as `status`.
    static func redrawStatus(message: String, status: String) {
        let text = "\r\u{1B}[2K\(TerminalText.sanitized(message))\n\u{1B}[2m\(TerminalText.sanitized(status))\u{1B}[0m"
        lock.withLock { writeAll(STDOUT_FILENO, text) }
    }

    /// write(2) until everything is out: no stdio buffer to flush, nothing held back.
    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    static func line(_ text: String) { write(text + "\n") }

    /// Draws the QR code of `text` on stdout (or stderr) for a phone to scan; false, with a note on
    /// stderr, when the text is too long for one. On a terminal it is black on white, whatever the
    /// theme. Elsewhere, or with NO_COLOR or TERM=dumb, it is plain half blocks in the text colour,
    /// drawn for a dark background unless COLORFGBG says the background is light.
    @discardableResult
    static func qrCode(of text: String, toStandardError: Bool = false) -> Bool {
        let code: QRCode
        do {
            code = try QRCode(text)
        } catch {
            Terminal.error("no QR code: \(error)")
            return false
        }
        let descriptor = toStandardError ? STDERR_FILENO : STDOUT_FILENO
        let environment = ProcessInfo.processInfo.environment
        let coloured =
            isatty(descriptor) == 1 && environment["NO_COLOR", default: ""].isEmpty && environment["TERM"] != "dumb"
        let drawing: String
        if coloured {
            // SGR 30;47 (black on white) on every line, reset before each newline.
            drawing = code.terminalRendering(invert: false).split(separator: "\n").map { "\u{1B}[30;47m\($0)\u{1B}[0m\n" }.joined()
        } else {
            drawing = code.terminalRendering(invert: QRCode.invertsPlainRendering(colorFGBG: environment["COLORFGBG"]))
        }
        // The drawing is gatewayctl's own (half blocks and colours), not text from the gateway.
        lock.withLock { writeAll(descriptor, drawing) }
        return true
    }

    static func error(_ text: String) {
        lock.withLock { writeAll(STDERR_FILENO, "gatewayctl: \(TerminalText.sanitized(text))\n") }
    }

    /// Prints JSON the gateway sent, pretty-printed with sorted keys.
    static func json(_ data: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            line(String(decoding: data, as: UTF8.self))
            return
        }
        json(object: object)
    }

    static func json(object: Any, compact: Bool = false) {
        let options: JSONSerialization.WritingOptions =
            compact ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? JSONSerialization.data(withJSONObject: object, options: options) {
            line(String(decoding: data, as: UTF8.self))
        }
    }

    /// A plain table: columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            line(
                zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                    .trimmingCharacters(in: .whitespaces))
        }
    }
}

/// The lines of this process's stdin, read on a thread of its own (stdin may be a terminal or a
/// pipe; either way reading blocks). Finishes at end of file.
func standardInputLines() -> AsyncStream<String> {
    let (stream, continuation) = AsyncStream<String>.makeStream()
    Thread {
        while let line = readLine(strippingNewline: true) {
            continuation.yield(line)
        }
        continuation.finish()
    }.start()
    return stream
}

/// A date as the API writes it (RFC 3339, UTC), for tables and messages.
func rfc3339(_ date: Date) -> String {
    ISO8601DateFormatter().string(from: date)
}
