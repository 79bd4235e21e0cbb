import Foundation
import GatewayTestSupport
import Testing

@testable import TerminalQRCode

/// The terminal QR encoder (GatewayClient's `QRCode`): the standard's tables, symbols identical
/// module for module to the web app's encoder, the terminal drawing, and decodes by zbarimg.
@Suite struct QRCodeTests {
    /// ISO/IEC 18004 table 7, level M: data codewords of versions 1-40.
    static let dataCodewords = [
        16, 28, 44, 64, 86, 108, 124, 154, 182, 216, 254, 290, 334, 365, 415, 453, 507, 563, 627, 669, 714, 782, 860, 914, 1000,
        1062, 1128, 1193, 1267, 1373, 1455, 1541, 1631, 1725, 1812, 1914, 1992, 2102, 2216, 2334,
    ]
    /// The same table's byte-mode capacities.
    static let byteCapacities = [
        14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666, 711, 779, 857, 911, 997,
        1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
    ]

    @Test func capacitiesAreTheStandards() {
        for version in 1...40 {
            #expect(QRCode.dataCapacity(version: version) == Self.dataCodewords[version - 1], "version \(version)")
            #expect(QRCode.byteCapacity(version: version) == Self.byteCapacities[version - 1], "version \(version)")
        }
        #expect(QRCode.maximumByteCount == Self.byteCapacities[39])
    }

    @Test func theSmallestVersionThatHoldsTheTextIsChosen() throws {
        for (length, version) in [(0, 1), (1, 1), (14, 1), (15, 2), (62, 4), (63, 5), (213, 10), (214, 11), (2331, 40)] {
            let code = try QRCode(String(repeating: "a", count: length))
            #expect(code.version == version, "\(length) bytes")
            #expect(code.size == 17 + 4 * version)
        }
        // UTF-8: "é" takes two bytes.
        #expect(try QRCode(String(repeating: "é", count: 7)).version == 1)
        #expect(try QRCode(String(repeating: "é", count: 8)).version == 2)
    }

    @Test func textTooLongForVersion40IsRefused() {
        #expect(throws: QRCodeError.textTooLong(byteCount: 2332, maximum: 2331)) {
            try QRCode(String(repeating: "a", count: 2332))
        }
        #expect(throws: QRCodeError.textTooLong(byteCount: 2333, maximum: 2331)) {
            try QRCode(String(repeating: "a", count: 2330) + "✓") // three bytes
        }
        let error = QRCodeError.textTooLong(byteCount: 2332, maximum: 2331)
        #expect(error.description == "too long for a QR code: 2332 bytes of UTF-8, at most 2331 fit")
    }

    @Test func formatAndVersionInformationMatchTheStandardsTables() {
        // Table C.1, level M (indicator 00), masks 0-7.
        let format = [0x5412, 0x5125, 0x5E7C, 0x5B4B, 0x45F9, 0x40CE, 0x4F97, 0x4AA0]
        for (mask, bits) in format.enumerated() { #expect(QRCode.formatBits(mask: mask) == bits, "mask \(mask)") }
        // Table D.1.
        #expect(QRCode.versionBits(version: 7) == 0x07C94)
        #expect(QRCode.versionBits(version: 8) == 0x085BC)
        #expect(QRCode.versionBits(version: 10) == 0x0A4D3)
        #expect(QRCode.versionBits(version: 40) == 0x28C69)
    }

    @Test func alignmentPatternPositionsMatchTheStandardsTable() {
        #expect(QRCode.alignmentPositions(version: 1) == [])
        #expect(QRCode.alignmentPositions(version: 2) == [6, 18])
        #expect(QRCode.alignmentPositions(version: 7) == [6, 22, 38])
        #expect(QRCode.alignmentPositions(version: 10) == [6, 28, 50])
        #expect(QRCode.alignmentPositions(version: 32) == [6, 34, 60, 86, 112, 138])
        #expect(QRCode.alignmentPositions(version: 40) == [6, 30, 58, 86, 114, 142, 170])
    }

    @Test func reedSolomonCodewordsAreDivisibleByTheGenerator() {
        for degree in [7, 10, 16, 26, 30] {
            let data = (0..<40).map { UInt8(($0 * 37 + degree) & 0xFF) }
            let codeword = data + QRCode.reedSolomonRemainder(data, divisor: QRCode.reedSolomonDivisor(degree: degree))
            // Every root alpha^0 ... alpha^(degree-1) of the generator is a root of the codeword.
            var root: UInt8 = 1
            for index in 0..<degree {
                let value = codeword.reduce(UInt8(0)) { QRCode.multiply($0, root) ^ $1 }
                #expect(value == 0, "degree \(degree), root \(index)")
                root = QRCode.multiply(root, 2)
            }
        }
        // The standard's generator of degree 10 (exponents 0, 251, 67, 46, 61, 118, 70, 64, 94, 32, 45).
        #expect(QRCode.reedSolomonDivisor(degree: 10) == [216, 194, 159, 111, 199, 94, 95, 113, 157, 193])
    }

    @Test(arguments: [1, 2, 6, 7, 10, 25, 40])
    func functionPatternsAreWhereTheStandardPutsThem(version: Int) throws {
        let code = try QRCode(bytes: Array("https://gw.ex/".utf8), version: version)
        let size = code.size
        #expect(size == 17 + 4 * version)
        // Finders: a dark ring, a light ring and a dark 3x3 centre at three corners.
        for (left, top) in [(0, 0), (size - 7, 0), (0, size - 7)] {
            for y in 0..<7 {
                for x in 0..<7 {
                    #expect(code.isDark(x: left + x, y: top + y) == (max(abs(x - 3), abs(y - 3)) != 2), "finder at \(left),\(top)")
                }
            }
        }
        for index in 8..<(size - 8) {
            #expect(code.isDark(x: index, y: 6) == index.isMultiple(of: 2), "horizontal timing")
            #expect(code.isDark(x: 6, y: index) == index.isMultiple(of: 2), "vertical timing")
        }
        #expect(code.isDark(x: 8, y: size - 8), "the dark module")
        // Both copies of the format information.
        let firstPositions = [
            (8, 0), (8, 1), (8, 2), (8, 3), (8, 4), (8, 5), (8, 7), (8, 8), (7, 8), (5, 8), (4, 8), (3, 8), (2, 8), (1, 8), (0, 8),
        ]
        var first = 0
        var second = 0
        for (index, (x, y)) in firstPositions.enumerated() where code.isDark(x: x, y: y) { first |= 1 << index }
        for index in 0..<8 where code.isDark(x: size - 1 - index, y: 8) { second |= 1 << index }
        for index in 8..<15 where code.isDark(x: 8, y: size - 15 + index) { second |= 1 << index }
        #expect(first == QRCode.formatBits(mask: code.mask))
        #expect(second == QRCode.formatBits(mask: code.mask))
        if version >= 7 {
            var bottomLeft = 0
            var topRight = 0
            for index in 0..<18 {
                let (a, b) = (size - 11 + index % 3, index / 3)
                if code.isDark(x: b, y: a) { bottomLeft |= 1 << index }
                if code.isDark(x: a, y: b) { topRight |= 1 << index }
            }
            #expect(bottomLeft == QRCode.versionBits(version: version))
            #expect(topRight == QRCode.versionBits(version: version))
        }
        // Outside the symbol is the quiet zone.
        #expect(!code.isDark(x: -1, y: 0) && !code.isDark(x: 0, y: size) && !code.isDark(x: size, y: size))
    }

    @Test func theMaskWithTheLowestPenaltyIsChosen() throws {
        let text = Array("https://gateway.example/invite/Zm9vYmFyYmF6cXV4".utf8)
        let chosen = try QRCode(bytes: text)
        func penalty(_ code: QRCode) -> Int {
            QRCode.penalty((0..<code.size * code.size).map { code.isDark(x: $0 % code.size, y: $0 / code.size) }, size: code.size)
        }
        for mask in 0..<8 {
            let forced = try QRCode(bytes: text, mask: mask)
            #expect(forced.mask == mask)
            #expect(penalty(forced) >= penalty(chosen), "mask \(mask)")
        }
        // Rule 4 alone: an all-dark symbol is as far from balanced as can be.
        #expect(QRCode.penalty([true, true, true, true], size: 2) >= 90)
    }

    struct Fixture: Sendable, CustomTestStringConvertible {
        let text: String
        let version: Int
        let mask: Int
        /// Rows top to bottom, `#` dark and `.` light.
        let modules: String
        var testDescription: String { "version \(version), mask \(mask)" }
    }

    /// Symbols drawn by the web app's encoder (Sources/GatewayWeb/Assets/qr.js) for the same texts.
    /// With the same version and mask they are also segno's (a Python encoder), once its extra zero
    /// byte after a byte-aligned terminator is left out (ISO/IEC 18004 section 7.4.10 has none).
    static let fixtures = [
        Fixture(
            text: "https://gw.ex/", version: 1, mask: 0,
            modules: """
                #######..#.#..#######
                #.....#.#.#...#.....#
                #.###.#..#..#.#.###.#
                #.###.#..#.#..#.###.#
                #.###.#.##..#.#.###.#
                #.....#..###..#.....#
                #######.#.#.#.#######
                .........##.#........
                #.#.#.#..#.#....#..#.
                #.#.#....####.###...#
                .#.#.##.#...##..#.###
                ####.#.##.##....#..#.
                ...#.##..##....#.#...
                ........##..#..##..##
                #######....###..#.###
                #.....#..##....##..##
                #.###.#.##.###...#.#.
                #.###.#..####...##.#.
                #.###.#.######..#.#.#
                #.....#..#####..#..#.
                #######.##.#....##.##
                """),
        Fixture(
            text: "https://gw.example/invite/", version: 2, mask: 6,
            modules: """
                #######.##.####...#######
                #.....#.#.#..#....#.....#
                #.###.#.##..####..#.###.#
                #.###.#..##.#####.#.###.#
                #.###.#.#.##.##.#.#.###.#
                #.....#..##.###.#.#.....#
                #######.#.#.#.#.#.#######
                .........#...#...........
                #..#######.#..##.#..#.###
                #.#.##.##.##.###.#.#####.
                ####.###..#.#.###.##.#..#
                .#.#.#.##.#...#....#.####
                .##.#.#...#.#...####....#
                #####..###..#.###...#..#.
                ########.##...##.#..#####
                #..#.#.#...#..#.#..#.##.#
                #...#.##.#..##.######.##.
                ........###.#.#.#...#.##.
                #######.##.#....#.#.#...#
                #.....#.##...####...#....
                #.###.#.#...#.#######....
                #.###.#.##.#.##.###....##
                #.###.#..####.####..#####
                #.....#..###..##..###.###
                #######.#..#....#.#..#..#
                """),
        Fixture(
            text: "https://gateway.example.com:8443/teams/research-lab/invite/" + "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0?from=gatewayctl",
            version: 7, mask: 2,
            modules: """
                #######..####....###.....#..####.#..#.#######
                #.....#..##.#.#....######....#.....#..#.....#
                #.###.#.##.##.#.#..##....####.#.##.#..#.###.#
                #.###.#.#.##...#.#######..#....#...##.#.###.#
                #.###.#.##.##.###...#######..####.###.#.###.#
                #.....#.#.#.##.##.#.#...#..#...#.#....#.....#
                #######.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#######
                ........##..##...##.#...#####.#.#..#.........
                #.#####..#.....#..########...#.#..##..#####..
                .#.#.....###.######.#...##...##.....#...#.###
                .##..#####.#....#....#.#.###.###.##..###.#.#.
                .#...#.##..#..##..###......#..####.##...#.#..
                #....##..###......#.####..##.###.###.#......#
                ###..#..#....#.#.#.###.....#.###...###.######
                ...##.##..#...###......##.#.##...###..#....#.
                #..###.###...#.##..#.#.#####....#..#..#.#####
                #####.#.#####.#.#####..#..#..###.##..#...###.
                #.#..#..####..#......#.#.#....###..###.##..##
                ..#.#.#.#...#.......#.#####....#.###.#....##.
                ........#.##.#.##.#........##.###..#...##.##.
                .#..######..###..#########...#.#..########..#
                #.#.#...#.#..##.#...#...#..#.###...##...#####
                #..##.#.#.##.....#.##.#.##..#..#.##.#.#.#.#..
                .#.##...###..#.#....#...#..##..###..#...###..
                .#.######.###.#.##.######.....#....#######.#.
                .###....#.#.#...#.##.###.#.#.##.#.....#..#..#
                ...##.##..###....##.###...######..####...#.#.
                .#..##.##..#..#####.#...#####...#.....#..####
                ###.######.#....##.##..####..###......#.##.##
                #.###..###.###.####...####.#.###......#....#.
                ##.####..###..#.....#.###.#....#..###..#.###.
                #.#..#..#..#.#..##...#..##.###.###.##.##.##..
                ###.#.#.....#.#.##..#..##.#....#..#..####..#.
                .#.###.###.#..#..#.#....##...###...###....###
                ....#.#.#####..###....#...##...#....##..#.#..
                .####...#...#...####.########...##.####.#.##.
                #..##.#.####...##.#######.#...##....######.##
                ........###.##.#.#..#...###...#....##...#####
                #######....###.#.#.##.#.#...#..#..###.#.#.#..
                #.....#.#....#..#..##...###.####...##...###..
                #.###.#.###.#.#.##..#####......#.#.#######.#.
                #.###.#.##.#.#.#.##...##.#....#.......##.##.#
                #.###.#.####..#....#.#..#.#..#..######....##.
                #.....#......##..##.#.#...#.#.#.##.#.#...##..
                #######.#..##.##...#..####...#.#..##..#.#..#.
                """),
    ]

    @Test(arguments: fixtures)
    func symbolsAreTheWebAppsModuleForModule(_ fixture: Fixture) throws {
        let code = try QRCode(fixture.text)
        #expect(code.version == fixture.version)
        #expect(code.mask == fixture.mask)
        #expect(Self.picture(code) == fixture.modules)
    }

    static func picture(_ code: QRCode) -> String {
        (0..<code.size).map { y in String((0..<code.size).map { x in code.isDark(x: x, y: y) ? "#" : "." }) }
            .joined(separator: "\n")
    }

    @Test(arguments: [false, true])
    func terminalRenderingHasHalfBlocksAndTheQuietZone(invert: Bool) throws {
        let code = try QRCode("https://gateway.example.com/invite/Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3Jh")
        let rendering = code.terminalRendering(invert: invert)
        #expect(rendering.hasSuffix("\n"))
        let lines = rendering.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let side = code.size + 2 * QRCode.quietZone
        #expect(lines.count == (side + 1) / 2)
        #expect(lines.allSatisfy { $0.count == side && $0.allSatisfy { "▀▄█ ".contains($0) } })
        // The quiet zone: two lines of nothing but it at the top, and light all round.
        let blank: Character = invert ? "█" : " "
        #expect(lines.prefix(2).allSatisfy { $0.allSatisfy { $0 == blank } })
        // Read back: each character is two modules, the upper and the lower.
        for (row, line) in lines.enumerated() {
            for (column, character) in line.enumerated() {
                let (x, y) = (column - QRCode.quietZone, 2 * row - QRCode.quietZone)
                let inkAbove = character == "█" || character == "▀"
                let inkBelow = character == "█" || character == "▄"
                #expect(inkAbove == (code.isDark(x: x, y: y) != invert), "x \(x), y \(y)")
                #expect(inkBelow == (code.isDark(x: x, y: y + 1) != invert), "x \(x), y \(y + 1)")
            }
        }
    }

    @Test func theTwoRenderingsAreEachOthersNegative() throws {
        let code = try QRCode("https://gw.ex/")
        let negative: [Character: Character] = ["█": " ", " ": "█", "▀": "▄", "▄": "▀", "\n": "\n"]
        #expect(String(code.terminalRendering(invert: false).map { negative[$0]! }) == code.terminalRendering(invert: true))
    }

    @Test func plainRenderingsAreInvertedUnlessTheBackgroundIsLight() {
        #expect(QRCode.invertsPlainRendering(colorFGBG: nil))
        #expect(QRCode.invertsPlainRendering(colorFGBG: "15;0"))
        #expect(QRCode.invertsPlainRendering(colorFGBG: "7;8"))
        #expect(QRCode.invertsPlainRendering(colorFGBG: "default;default"))
        #expect(!QRCode.invertsPlainRendering(colorFGBG: "0;15"))
        #expect(!QRCode.invertsPlainRendering(colorFGBG: "0;default;7"))
        #expect(!QRCode.invertsPlainRendering(colorFGBG: "12;11"))
    }
}

/// An independent decoder reads what the encoder draws: zbarimg (Debian's zbar-tools, which
/// scripts/test.sh installs). Under scripts/test.sh and CI a missing zbarimg fails these tests;
/// elsewhere they are skipped, saying so.
@Suite(.requires(.zbarimg))
struct QRCodeDecodeTests {
    /// A text of `length` bytes that looks like an invite URL.
    static func inviteLike(length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        var text = "https://gateway.example/invite/"
        var index = 0
        while text.utf8.count < length {
            text.append(alphabet[(index * 7 + length) % alphabet.count])
            index += 1
        }
        return String(text.prefix(length))
    }

    /// Versions 1 and 2, 7 (the first with version information), 10 (the first with a 16-bit
    /// length), and a few larger ones up to 40, each filled to capacity.
    @Test(arguments: [1, 2, 6, 7, 10, 14, 22, 32, 40])
    func everyVersionDecodesAtFullCapacity(version: Int) throws {
        let text = Self.inviteLike(length: QRCodeTests.byteCapacities[version - 1])
        let code = try QRCode(text)
        #expect(code.version == version)
        #expect(try ZBar.decode(ZBar.image(code)) == text)
    }

    @Test(arguments: 0..<8)
    func everyMaskDecodes(mask: Int) throws {
        let text = "https://gateway.example/invite/mask-\(mask)"
        #expect(try ZBar.decode(ZBar.image(QRCode(bytes: Array(text.utf8), mask: mask))) == text)
    }

    static let inviteURLs = [
        // As the gateway makes them: a 32-character code.
        "https://gateway.example.com/invite/Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3Jh",
        // Behind a long host name and path prefix, with a query.
        "https://agents.research-and-development.internal.example-corporation.co.uk:8443/gateway/tenants/"
            + "applied-machine-learning-group/invite/Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3Jh?utm_source=gatewayctl&utm_medium=terminal"
            + "&note=" + String(repeating: "x", count: 120),
        "https://gateway.example/invite/ünïcødé-✓",
    ]

    @Test(arguments: inviteURLs)
    func inviteURLsDecode(_ url: String) throws {
        #expect(try ZBar.decode(ZBar.image(QRCode(url))) == url)
    }

    /// What a phone sees on the screen: the half blocks drawn in the text colour, four pixels a
    /// module across and down. Light text on dark for the inverted drawing, dark on light otherwise.
    @Test(arguments: [false, true])
    func terminalRenderingsDecode(invert: Bool) throws {
        for text in Self.inviteURLs + [Self.inviteLike(length: QRCodeTests.byteCapacities[6])] {
            let rendering = try QRCode(text).terminalRendering(invert: invert)
            #expect(try ZBar.decode(ZBar.image(terminal: rendering, inkIsDark: !invert)) == text, "\(text)")
        }
    }
}

/// zbarimg, and black-and-white PBM images for it.
enum ZBar {
    /// `zbarimg` on the PATH, if there is one.
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/zbarimg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// A binary PBM (P4): `dark(x, y)` for each pixel, rows packed eight pixels a byte.
    static func pbm(width: Int, height: Int, dark: (Int, Int) -> Bool) -> [UInt8] {
        var bytes = Array("P4\n\(width) \(height)\n".utf8)
        for y in 0..<height {
            for byteStart in stride(from: 0, to: width, by: 8) {
                var byte: UInt8 = 0
                for bit in 0..<8 where byteStart + bit < width && dark(byteStart + bit, y) { byte |= 0x80 >> UInt8(bit) }
                bytes.append(byte)
            }
        }
        return bytes
    }

    /// The symbol with its quiet zone, four pixels a module.
    static func image(_ code: QRCode, scale: Int = 4) -> [UInt8] {
        let side = (code.size + 2 * QRCode.quietZone) * scale
        return pbm(width: side, height: side) { x, y in
            code.isDark(x: x / scale - QRCode.quietZone, y: y / scale - QRCode.quietZone)
        }
    }

    /// A terminal drawing as a screen shows it: each character four pixels wide and eight high,
    /// its half blocks in the text colour (dark when `inkIsDark`, else light on a dark background).
    static func image(terminal rendering: String, inkIsDark: Bool, scale: Int = 4) -> [UInt8] {
        let lines = rendering.split(separator: "\n").map(Array.init)
        let width = (lines.map(\.count).max() ?? 0) * scale
        return pbm(width: width, height: lines.count * 2 * scale) { x, y in
            let character = lines[y / (2 * scale)][x / scale]
            let upper = y % (2 * scale) < scale
            let ink = character == "█" || character == (upper ? "▀" : "▄")
            return ink == inkIsDark
        }
    }

    /// The decoded bytes as UTF-8 (`-Sbinary`: as they are, without zbar guessing a character set).
    static func decode(_ image: [UInt8]) throws -> String {
        let zbarimg = try #require(path, "zbarimg is not installed: apt-get install zbar-tools")
        let file = NSTemporaryDirectory() + "qr-\(UUID().uuidString).pbm"
        try Data(image).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: zbarimg)
        process.arguments = ["--quiet", "--raw", "-Sbinary", file]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "zbarimg found no QR code (exit status \(process.terminationStatus))")
        return String(decoding: data, as: UTF8.self)
    }
}
