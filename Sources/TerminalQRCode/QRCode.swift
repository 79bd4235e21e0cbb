/// A QR code (ISO/IEC 18004) of a text, such as an invite URL, for a phone to scan off a terminal.
///
/// The text is encoded as UTF-8 in byte mode with error correction level M, in the smallest
/// version (1-40) that holds it, with the data mask that has the lowest penalty. A port of the web
/// app's encoder (`qr.js`), so both draw the same symbol for the same text. No Foundation, so
/// anything that links the library can use it as it is.
package struct QRCode: Sendable, Hashable {
    /// The version, 1-40: the symbol is `17 + 4 * version` modules on a side.
    package let version: Int
    /// The data mask (0-7) that was applied.
    package let mask: Int
    /// Modules on a side, without the quiet zone.
    package let size: Int
    /// Row-major, true for dark.
    private let modules: [Bool]

    /// The most bytes of UTF-8 a QR code holds at level M (version 40).
    package static let maximumByteCount = 2331

    /// Light modules around the symbol that scanners need to find it (ISO/IEC 18004 section 6.3.8).
    package static let quietZone = 4

    /// The QR code of `text`; throws ``QRCodeError/textTooLong(byteCount:maximum:)`` when its
    /// UTF-8 is longer than ``maximumByteCount`` bytes.
    package init(_ text: String) throws {
        try self.init(bytes: Array(text.utf8))
    }

    /// Tests force a version or a mask; otherwise the smallest version and the best mask.
    init(bytes: [UInt8], version forcedVersion: Int? = nil, mask forcedMask: Int? = nil) throws {
        let version: Int
        if let forcedVersion {
            precondition((1...40).contains(forcedVersion), "QR code versions are 1-40")
            version = forcedVersion
        } else {
            version = (1...40).first { Self.byteCapacity(version: $0) >= bytes.count } ?? 40
        }
        guard Self.byteCapacity(version: version) >= bytes.count else {
            throw QRCodeError.textTooLong(byteCount: bytes.count, maximum: Self.byteCapacity(version: version))
        }
        if let forcedMask { precondition((0...7).contains(forcedMask), "QR code masks are 0-7") }
        let codewords = Self.interleave(Self.dataCodewords(bytes, version: version), version: version)
        var unmasked = Symbol(version: version)
        unmasked.drawCodewords(codewords)
        var best = (score: Int.max, mask: 0, symbol: unmasked)
        for mask in 0..<8 where forcedMask == nil || forcedMask == mask {
            var symbol = unmasked
            symbol.applyMask(mask)
            symbol.drawFormat(mask: mask)
            let score = Self.penalty(symbol.modules, size: symbol.size)
            // Strictly lower: on a tie the lower mask wins, as in qr.js.
            if score < best.score { best = (score, mask, symbol) }
        }
        self.version = version
        self.mask = best.mask
        self.size = best.symbol.size
        self.modules = best.symbol.modules
    }

    /// Whether the module at column `x`, row `y` is dark; outside the symbol (the quiet zone) is light.
    package func isDark(x: Int, y: Int) -> Bool {
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return modules[y * size + x]
    }

    /// The symbol as text for a terminal, two module rows per line with Unicode half blocks
    /// (`▀`, `▄`, `█` and space), with the quiet zone; every line ends with a newline.
    ///
    /// A block is drawn in the terminal's text colour. With `invert` false the blocks are the dark
    /// modules: right for dark text on a light background. With `invert` true they are the light
    /// modules and the quiet zone: right for light text on a dark background. Either way the
    /// phone sees dark modules on light.
    package func terminalRendering(invert: Bool) -> String {
        let quiet = Self.quietZone
        var text = ""
        text.unicodeScalars.reserveCapacity((size + 2 * quiet + 1) * (size + 2 * quiet + 1) / 2)
        // The side is odd (17 + 4v + 8), so the last line's lower half is one more quiet row.
        for top in stride(from: -quiet, to: size + quiet, by: 2) {
            for x in -quiet..<(size + quiet) {
                let upper = isDark(x: x, y: top) != invert
                let lower = isDark(x: x, y: top + 1) != invert
                text.unicodeScalars.append(upper ? (lower ? "█" : "▀") : (lower ? "▄" : " "))
            }
            text.unicodeScalars.append("\n")
        }
        return text
    }

    /// Whether a plain (uncoloured) rendering should be inverted on a terminal whose colours
    /// `COLORFGBG` describes (`fg;bg`, set by rxvt, Konsole, iTerm2 and others): inverted unless
    /// it says the background is light, since most terminals are light text on dark.
    package static func invertsPlainRendering(colorFGBG: String?) -> Bool {
        guard let last = colorFGBG?.split(separator: ";").last, let background = Int(last) else { return true }
        // Of the 16 ANSI colours, 7 (white) and 9-15 (the bright ones but black) are light.
        return !(background == 7 || (9...15).contains(background))
    }
}

/// Why a text has no QR code.
package enum QRCodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text's UTF-8 is longer than the largest symbol (version 40, level M) holds.
    case textTooLong(byteCount: Int, maximum: Int)

    package var description: String {
        switch self {
        case .textTooLong(let byteCount, let maximum):
            return "too long for a QR code: \(byteCount) bytes of UTF-8, at most \(maximum) fit"
        }
    }
}

// MARK: - Capacities (ISO/IEC 18004 tables 7 and 9, level M)

extension QRCode {
    /// Error correction codewords per block, by version (index 0 unused).
    private static let eccPerBlock = [
        -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
        26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    ]
    /// Error correction blocks, by version (index 0 unused).
    private static let blockCounts = [
        -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
        17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
    ]

    /// Modules left for data and error correction: all but the function patterns.
    static func rawDataModules(version: Int) -> Int {
        var count = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignment = version / 7 + 2
            count -= (25 * alignment - 10) * alignment - 55
            if version >= 7 { count -= 36 }
        }
        return count
    }

    /// Data codewords a version holds at level M.
    static func dataCapacity(version: Int) -> Int {
        rawDataModules(version: version) / 8 - eccPerBlock[version] * blockCounts[version]
    }

    /// Bytes a version holds in byte mode: 4 bits of mode and 8 (versions 1-9) or 16 bits of length.
    static func byteCapacity(version: Int) -> Int {
        (dataCapacity(version: version) * 8 - 4 - (version <= 9 ? 8 : 16)) / 8
    }
}

// MARK: - Reed-Solomon over GF(2^8) with x^8 + x^4 + x^3 + x^2 + 1

extension QRCode {
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var product = 0
        for bit in stride(from: 7, through: 0, by: -1) {
            product = (product << 1) ^ ((product >> 7) * 0x11D)
            product ^= ((Int(y) >> bit) & 1) * Int(x)
        }
        return UInt8(product)
    }

    /// The generator polynomial of a degree: its coefficients, highest first, the leading 1 left out.
    static func reedSolomonDivisor(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for index in result.indices {
                result[index] = multiply(result[index], root)
                if index + 1 < result.count { result[index] ^= result[index + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    /// The error correction codewords of some data.
    static func reedSolomonRemainder(_ data: some Sequence<UInt8>, divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for index in divisor.indices { result[index] ^= multiply(divisor[index], factor) }
        }
        return result
    }
}

// MARK: - Codewords

extension QRCode {
    /// The data codewords: mode, length, the bytes, terminator and padding.
    static func dataCodewords(_ bytes: [UInt8], version: Int) -> [UInt8] {
        var bits: [Bool] = []
        func put(_ value: Int, _ length: Int) {
            for bit in stride(from: length - 1, through: 0, by: -1) { bits.append((value >> bit) & 1 == 1) }
        }
        put(0b0100, 4) // byte mode
        put(bytes.count, version <= 9 ? 8 : 16)
        for byte in bytes { put(Int(byte), 8) }
        let capacity = dataCapacity(version: version) * 8
        put(0, min(4, capacity - bits.count))
        put(0, (8 - bits.count % 8) % 8)
        var pad = 0xEC
        while bits.count < capacity {
            put(pad, 8)
            pad ^= 0xEC ^ 0x11
        }
        return stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<start + 8].reduce(UInt8(0)) { ($0 << 1) | ($1 ? 1 : 0) }
        }
    }

    /// The data split into blocks, each followed by its error correction, interleaved as the symbol stores them.
    static func interleave(_ data: [UInt8], version: Int) -> [UInt8] {
        let blockCount = blockCounts[version]
        let eccLength = eccPerBlock[version]
        let raw = rawDataModules(version: version) / 8
        let shortBlocks = blockCount - raw % blockCount
        let shortLength = raw / blockCount
        let divisor = reedSolomonDivisor(degree: eccLength)
        var dataBlocks: [ArraySlice<UInt8>] = []
        var eccBlocks: [[UInt8]] = []
        var offset = 0
        for block in 0..<blockCount {
            let length = shortLength - eccLength + (block < shortBlocks ? 0 : 1)
            let piece = data[offset..<offset + length]
            offset += length
            dataBlocks.append(piece)
            eccBlocks.append(reedSolomonRemainder(piece, divisor: divisor))
        }
        var result: [UInt8] = []
        result.reserveCapacity(raw)
        // Data first, column by column; short blocks have nothing in the last data column.
        for column in 0...(shortLength - eccLength) {
            for piece in dataBlocks where column < piece.count { result.append(piece[piece.startIndex + column]) }
        }
        for column in 0..<eccLength {
            for ecc in eccBlocks { result.append(ecc[column]) }
        }
        return result
    }
}

// MARK: - The symbol

extension QRCode {
    /// The 15 bits of format information: level M (00) and a mask, BCH(15,5)-coded and masked.
    static func formatBits(mask: Int) -> Int {
        let data = (0b00 << 3) | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return ((data << 10) | remainder) ^ 0x5412
    }

    /// The 18 bits of version information (versions 7 and up), BCH(18,6)-coded.
    static func versionBits(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return (version << 12) | remainder
    }

    /// The centres of the alignment patterns along each axis.
    static func alignmentPositions(version: Int) -> [Int] {
        guard version > 1 else { return [] }
        let count = version / 7 + 2
        let size = version * 4 + 17
        let step = (version * 8 + count * 3 + 5) / (count * 4 - 4) * 2
        var positions = [6]
        var position = size - 7
        while positions.count < count {
            positions.insert(position, at: 1)
            position -= step
        }
        return positions
    }

    static func masked(_ mask: Int, x: Int, y: Int) -> Bool {
        switch mask {
        case 0: return (x + y) % 2 == 0
        case 1: return y % 2 == 0
        case 2: return x % 3 == 0
        case 3: return (x + y) % 3 == 0
        case 4: return (x / 3 + y / 2) % 2 == 0
        case 5: return (x * y) % 2 + (x * y) % 3 == 0
        case 6: return ((x * y) % 2 + (x * y) % 3) % 2 == 0
        default: return ((x + y) % 2 + (x * y) % 3) % 2 == 0
        }
    }

    /// A symbol being drawn: its modules, and which of them belong to function patterns.
    private struct Symbol {
        let version: Int
        let size: Int
        var modules: [Bool]
        var reserved: [Bool]

        init(version: Int) {
            self.version = version
            size = version * 4 + 17
            modules = Array(repeating: false, count: size * size)
            reserved = Array(repeating: false, count: size * size)
            drawFunctionPatterns()
        }

        mutating func set(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y * size + x] = dark
            reserved[y * size + x] = true
        }

        mutating func drawFunctionPatterns() {
            for index in 0..<size {
                set(6, index, index % 2 == 0) // timing patterns
                set(index, 6, index % 2 == 0)
            }
            // Finder patterns with their separators.
            for (centreX, centreY) in [(3, 3), (size - 4, 3), (3, size - 4)] {
                for dy in -4...4 {
                    for dx in -4...4 {
                        let (x, y) = (centreX + dx, centreY + dy)
                        let distance = max(abs(dx), abs(dy))
                        if x >= 0, x < size, y >= 0, y < size { set(x, y, distance != 2 && distance != 4) }
                    }
                }
            }
            let positions = QRCode.alignmentPositions(version: version)
            let last = positions.count - 1
            for (i, centreX) in positions.enumerated() {
                for (j, centreY) in positions.enumerated() {
                    // The three corners under the finder patterns have none.
                    if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                    for dy in -2...2 {
                        for dx in -2...2 { set(centreX + dx, centreY + dy, max(abs(dx), abs(dy)) != 1) }
                    }
                }
            }
            drawFormat(mask: 0) // reserves the format areas; drawn again with the chosen mask
            if version >= 7 {
                let bits = QRCode.versionBits(version: version)
                for index in 0..<18 {
                    let dark = (bits >> index) & 1 == 1
                    let a = size - 11 + index % 3
                    let b = index / 3
                    set(a, b, dark)
                    set(b, a, dark)
                }
            }
        }

        mutating func drawFormat(mask: Int) {
            let bits = QRCode.formatBits(mask: mask)
            func bit(_ index: Int) -> Bool { (bits >> index) & 1 == 1 }
            // Around the top-left finder.
            for index in 0...5 { set(8, index, bit(index)) }
            set(8, 7, bit(6))
            set(8, 8, bit(7))
            set(7, 8, bit(8))
            for index in 9..<15 { set(14 - index, 8, bit(index)) }
            // The copy split between the other two finders.
            for index in 0..<8 { set(size - 1 - index, 8, bit(index)) }
            for index in 8..<15 { set(8, size - 15 + index, bit(index)) }
            set(8, size - 8, true) // the dark module
        }

        /// The codewords in the two-column zigzag from the bottom right, around the function patterns.
        mutating func drawCodewords(_ codewords: [UInt8]) {
            var bit = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 } // the vertical timing pattern
                let upward = (right + 1) & 2 == 0
                for step in 0..<size {
                    for column in 0..<2 {
                        let x = right - column
                        let y = upward ? size - 1 - step : step
                        if reserved[y * size + x] || bit >= codewords.count * 8 { continue }
                        modules[y * size + x] = (codewords[bit >> 3] >> (7 - UInt8(bit & 7))) & 1 == 1
                        bit += 1
                    }
                }
                right -= 2
            }
        }

        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !reserved[y * size + x] && QRCode.masked(mask, x: x, y: y) {
                    modules[y * size + x].toggle()
                }
            }
        }
    }

    /// The penalty of a symbol (ISO/IEC 18004 section 7.8.3), as qr.js scores it: lower reads better.
    static func penalty(_ modules: [Bool], size: Int) -> Int {
        var score = 0
        for index in 0..<size {
            for horizontal in [true, false] {
                // Row `index` or column `index`; beyond the edge is light (the quiet zone).
                func at(_ position: Int) -> Bool {
                    guard position >= 0, position < size else { return false }
                    return horizontal ? modules[index * size + position] : modules[position * size + index]
                }
                // Rule 1: five or more modules of one colour in a row: 3, plus 1 for each beyond five.
                var run = 1
                for position in 1...size {
                    if position < size && at(position) == at(position - 1) {
                        run += 1
                    } else {
                        if run >= 5 { score += 3 + run - 5 }
                        run = 1
                    }
                }
                // Rule 3: dark, light, 3 dark, light, dark with four light modules on a side: 40 a side.
                for position in 0..<size {
                    let core =
                        at(position) && !at(position + 1) && at(position + 2) && at(position + 3) && at(position + 4)
                        && !at(position + 5) && at(position + 6)
                    guard core else { continue }
                    if (1...4).allSatisfy({ !at(position - $0) }) { score += 40 }
                    if (7...10).allSatisfy({ !at(position + $0) }) { score += 40 }
                }
            }
        }
        // Rule 2: each 2x2 block of one colour: 3.
        for y in 0..<(size - 1) {
            for x in 0..<(size - 1) {
                let colour = modules[y * size + x]
                if modules[y * size + x + 1] == colour && modules[(y + 1) * size + x] == colour
                    && modules[(y + 1) * size + x + 1] == colour
                {
                    score += 3
                }
            }
        }
        // Rule 4: 10 for each full 5% the share of dark modules is away from 50%.
        let dark = modules.reduce(0) { $0 + ($1 ? 1 : 0) }
        let total = size * size
        score += abs(dark * 100 - total * 50) / (total * 5) * 10
        return score
    }
}
