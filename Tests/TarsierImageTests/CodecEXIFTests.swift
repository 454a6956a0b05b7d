import XCTest
@testable import TarsierImage

final class CodecEXIFTests: XCTestCase {
    /// An EXIF block whose IFD0 has `entries` (tag, type, count, value) in the given byte order.
    private func exif(bigEndian: Bool, entries: [(UInt16, UInt16, UInt32, UInt32)], prefix: Bool = true) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16))
        }
        var bytes: [UInt8] = prefix ? Array("Exif".utf8) + [0, 0] : []
        bytes += (bigEndian ? Array("MM".utf8) : Array("II".utf8)) + u16(42) + u32(8) + u16(UInt16(entries.count))
        for (tag, type, count, value) in entries {
            // A SHORT sits in the first two bytes of the value field.
            bytes += u16(tag) + u16(type) + u32(count) + (type == 3 ? u16(UInt16(value)) + [0, 0] : u32(value))
        }
        return bytes + u32(0)
    }

    private func orientation(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { EXIFOrientation.orientation(inEXIF: $0) }
    }

    func testReadsOrientationInBothByteOrders() {
        for bigEndian in [false, true] {
            for value in 1...8 {
                let entries: [(UInt16, UInt16, UInt32, UInt32)] = [(0x010F, 2, 4, 0), (0x0112, 3, 1, UInt32(value))]
                XCTAssertEqual(orientation(exif(bigEndian: bigEndian, entries: entries)), value)
                XCTAssertEqual(orientation(exif(bigEndian: bigEndian, entries: entries, prefix: false)), value)
            }
            XCTAssertEqual(orientation(exif(bigEndian: bigEndian, entries: [(0x0112, 4, 1, 6)])), 6)  // LONG
            XCTAssertNil(orientation(exif(bigEndian: bigEndian, entries: [(0x0112, 3, 2, 6)])))  // a list
            XCTAssertNil(orientation(exif(bigEndian: bigEndian, entries: [(0x0112, 3, 1, 9)])))  // out of range
            XCTAssertNil(orientation(exif(bigEndian: bigEndian, entries: [(0x0110, 3, 1, 6)])))  // no tag
        }
    }

    /// Every prefix of a valid block, and blocks with offsets pointing anywhere, are read
    /// without going out of bounds.
    func testMalformedBlocksAreBoundsChecked() {
        let valid = exif(bigEndian: true, entries: [(0x0100, 3, 1, 5), (0x0112, 3, 1, 3)])
        for length in 0..<valid.count {
            _ = orientation(Array(valid[..<length]))
        }
        XCTAssertEqual(orientation(valid), 3)
        for offset: UInt8 in [0, 7, 9, 200, 255] {
            var bad = valid
            bad[13] = offset  // the low byte of the IFD0 offset
            _ = orientation(bad)
            bad[10] = 0xFF  // an IFD0 offset far past the end
            XCTAssertNil(orientation(bad))
        }
        var hugeCount = valid
        hugeCount[14] = 0xFF  // claims 65k entries
        hugeCount[15] = 0xFF
        _ = orientation(hugeCount)
        XCTAssertNil(orientation(Array("Exif\0\0XX*\0".utf8)))
    }

    /// The transposition agrees with a direct per-pixel definition of each orientation.
    func testTranspositionMatchesDefinition() {
        let (width, height) = (5, 3)
        for channels in 1...4 {
            let pixels = (0..<(width * height * channels)).map { UInt16($0) }
            for orientation in 1...8 {
                let result = EXIFOrientation.apply(orientation, to: pixels, width: width, height: height, channels: channels)
                let swaps = orientation >= 5
                XCTAssertEqual(result.width, swaps ? height : width)
                XCTAssertEqual(result.height, swaps ? width : height)
                for y in 0..<result.height {
                    for x in 0..<result.width {
                        // Where output (x, y) comes from, as Pillow's transpose methods define it.
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (width - 1 - x, y)
                        case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                        case 4: (sx, sy) = (x, height - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, height - 1 - x)
                        case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                        case 8: (sx, sy) = (width - 1 - y, x)
                        default: (sx, sy) = (x, y)
                        }
                        for c in 0..<channels {
                            XCTAssertEqual(result.pixels[(y * result.width + x) * channels + c],
                                           pixels[(sy * width + sx) * channels + c],
                                           "orientation \(orientation), \(channels) channels, (\(x), \(y))")
                        }
                    }
                }
            }
        }
    }

    func testFormatDetectionUsesBytesNotNames() {
        XCTAssertEqual(ImageFileFormat.detect([0xFF, 0xD8, 0xFF, 0xE0]), .jpeg)
        XCTAssertEqual(ImageFileFormat.detect([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]), .png)
        XCTAssertNil(ImageFileFormat.detect([0xFF, 0xD8]))
        XCTAssertNil(ImageFileFormat.detect(Array("GIF89a".utf8)))
        XCTAssertEqual(ImageFileFormat(pathExtensionOf: "/a/b.JPEG"), .jpeg)
        XCTAssertEqual(ImageFileFormat(pathExtensionOf: "x.png"), .png)
        XCTAssertNil(ImageFileFormat(pathExtensionOf: "x.bmp"))
        XCTAssertNil(ImageFileFormat(pathExtensionOf: "/dir.png/file"))
        XCTAssertNil(ImageFileFormat(pathExtensionOf: ".png"))
    }
}
