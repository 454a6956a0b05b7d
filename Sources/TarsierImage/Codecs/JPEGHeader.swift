/// What a JPEG declares before its first scan, read by walking the marker segments ourselves:
/// the size is checked against the limits before libjpeg allocates anything, a file cut inside
/// its header is told apart from a corrupt one, and the EXIF block is found without a copy.
struct JPEGHeader {
    /// Columns and rows from the frame header (SOF).
    var width: Int
    var height: Int
    /// Bits per sample (8 for all JPEGs libjpeg-turbo 2.1 decodes).
    var precision: Int
    /// Colour components (1 grey, 3 YCbCr or RGB, 4 CMYK or YCCK).
    var components: Int
    /// The SOF marker's second byte (0xC0 baseline, 0xC2 progressive, ...).
    var frameMarker: UInt8
    /// The payload of the first APP1 segment that starts with `Exif\0`, as Pillow picks it.
    var exif: Range<Int>?
    /// Where the first start-of-scan marker begins.
    var scanOffset: Int
    /// Where the frame header's payload begins (its height is at +1, big-endian).
    var frameOffset: Int
    /// The largest horizontal and vertical sampling factors of the components.
    var maxSampling: (horizontal: Int, vertical: Int)
    /// MCUs per restart interval (DRI before the first scan), 0 without restarts.
    var restartInterval: Int
    /// Components in the first scan, and where its entropy-coded data begins (nil when the
    /// file ends inside the scan header).
    var scanComponents: Int
    var entropyOffset: Int?

    /// Reads the segments from SOI up to the first SOS.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws -> JPEGHeader {
        func truncated() -> ImageError {
            ImageError(kind: .truncated, file: name, detail: "the JPEG ends inside its header (\(bytes.count) bytes)")
        }
        func corrupt(_ detail: String) -> ImageError {
            ImageError(kind: .corrupt, file: name, detail: "JPEG: \(detail)")
        }
        guard bytes.count >= 2, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw corrupt("no start-of-image marker") }

        var frame: (width: Int, height: Int, precision: Int, components: Int, marker: UInt8)?
        var frameOffset = 0, maxSampling = (horizontal: 1, vertical: 1), restartInterval = 0
        var exif: Range<Int>?
        var position = 2
        while true {
            // Find the next marker as libjpeg does: skip stray bytes, fill bytes and stuffed 0xFF00.
            var marker: UInt8 = 0
            repeat {
                while position < bytes.count && bytes[position] != 0xFF { position += 1 }
                while position < bytes.count && bytes[position] == 0xFF { position += 1 }
                guard position < bytes.count else { throw truncated() }
                marker = bytes[position]
                position += 1
            } while marker == 0x00
            let markerStart = position - 2

            switch marker {
            case 0x01, 0xD0...0xD7:
                continue  // standalone markers carry no length
            case 0xD8:
                throw corrupt("a second start-of-image marker inside the header")
            case 0xD9:
                throw corrupt("the file ends (EOI) before any image data")
            default:
                break
            }
            guard position + 2 <= bytes.count else { throw truncated() }
            let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            guard length >= 2 else { throw corrupt("marker 0xFF\(JPEGHeader.hex(marker)) has invalid length \(length)") }
            let payload = position + 2
            let end = position + length
            if marker == 0xDA {
                guard let frame else { throw corrupt("a scan starts before the frame header (SOF)") }
                let whole = end <= bytes.count && length >= 3
                return JPEGHeader(width: frame.width, height: frame.height, precision: frame.precision,
                                  components: frame.components, frameMarker: frame.marker, exif: exif,
                                  scanOffset: markerStart, frameOffset: frameOffset, maxSampling: maxSampling,
                                  restartInterval: restartInterval, scanComponents: whole ? Int(bytes[payload]) : 0,
                                  entropyOffset: whole ? end : nil)
            }
            guard end <= bytes.count else { throw truncated() }

            switch marker {
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard frame == nil else { throw corrupt("more than one frame header (SOF)") }
                guard length >= 8 else { throw corrupt("frame header too short (\(length) bytes)") }
                let height = Int(bytes[payload + 1]) << 8 | Int(bytes[payload + 2])
                let width = Int(bytes[payload + 3]) << 8 | Int(bytes[payload + 4])
                frame = (width, height, Int(bytes[payload]), Int(bytes[payload + 5]), marker)
                frameOffset = payload
                let count = Int(bytes[payload + 5])
                if length >= 8 + 3 * count {
                    for c in 0..<count {
                        let factors = bytes[payload + 7 + 3 * c]
                        maxSampling = (max(maxSampling.horizontal, Int(factors >> 4)),
                                       max(maxSampling.vertical, Int(factors & 15)))
                    }
                }
            case 0xDD where length == 4:
                restartInterval = Int(bytes[payload]) << 8 | Int(bytes[payload + 1])
            case 0xE1 where exif == nil && length >= 7:
                let tag: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0x00]  // "Exif\0"
                if tag.indices.allSatisfy({ bytes[payload + $0] == tag[$0] }) { exif = payload..<end }
            default:
                break
            }
            position = end
        }
    }

    /// Whether an end-of-image marker follows the first scan; a file without one was cut short.
    func hasEndMarker(in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = scanOffset
        while i + 1 < bytes.count {
            if bytes[i] == 0xFF && bytes[i + 1] == 0xD9 { return true }
            i += 1
        }
        return false
    }

    /// Two upper-case hex digits, for messages.
    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + digits : digits
    }
}
