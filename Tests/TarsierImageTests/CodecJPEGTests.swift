import Foundation
import TarsierSupport
import XCTest
@testable import TarsierImage

final class CodecJPEGTests: XCTestCase {
    /// The darknet photographs decode to Pillow's `convert("RGB")` pixels (sampled every 8th row,
    /// plus a hash of the whole image).
    func testDarknetPhotographsMatchPillow() throws {
        let folder = try CodecFixtures.darknetFolder()
        let manifest = try CodecFixtures.manifest()
        XCTAssertEqual(manifest.darknet.count, 5)
        for reference in manifest.darknet {
            let image = try ImageCodec.decode(contentsOf: folder + "/" + reference.file, as: .rgb)
            XCTAssertEqual(image.width, reference.width, reference.file)
            XCTAssertEqual(image.height, reference.height, reference.file)
            let rows = try ImageCodec.decode(contentsOf: try CodecFixtures.path(reference.reference))
            XCTAssertEqual(rows.format, .rgb)
            XCTAssertEqual(rows.width, reference.width)
            XCTAssertEqual(rows.height, (reference.height + reference.rowStep - 1) / reference.rowStep)
            guard image.width == reference.width, image.height == reference.height,
                  let ours = image.bytes, let pillow = rows.bytes else { continue }
            let rowLength = image.width * 3
            var sampled: [Int] = []
            for y in stride(from: 0, to: image.height, by: reference.rowStep) {
                sampled += ours[(y * rowLength)..<((y + 1) * rowLength)].map(Int.init)
            }
            let mad = CodecCompare.meanAbsoluteDifference(sampled, pillow.map(Int.init))
            let identical = UInt64(reference.fnv1a64, radix: 16) == CodecCompare.fnv1a64(ours)
            print("\(reference.file): \(image.width)x\(image.height), MAD vs Pillow \(mad) on every "
                  + "\(reference.rowStep)th row; whole image identical to Pillow: \(identical)")
            XCTAssertLessThan(mad, 1, "\(reference.file): mean absolute difference from Pillow is \(mad)")
        }
    }

    /// Orientations 1-8 (Intel and Motorola byte order) come out as Pillow's `exif_transpose`.
    func testEXIFOrientationsMatchPillow() throws {
        let cases = try CodecFixtures.manifest().jpeg.filter { $0.file.contains("orientation") }
        XCTAssertEqual(cases.count, 8)
        for expected in cases {
            let path = try CodecFixtures.path(expected.file)
            let image = try ImageCodec.decode(contentsOf: path)
            XCTAssertEqual([image.width, image.height], [expected.width, expected.height], expected.file)
            guard image.allSamples.count == expected.samples.count else { continue }
            let mad = CodecCompare.meanAbsoluteDifference(image.allSamples, expected.samples)
            print("\(expected.file): MAD vs Pillow's exif_transpose \(mad)")
            XCTAssertLessThan(mad, 1, "\(expected.file): MAD \(mad) from Pillow's exif_transpose")
            let stored = try ImageCodec.decode(contentsOf: path, applyEXIFOrientation: false)
            XCTAssertEqual([stored.width, stored.height], [27, 18], expected.file)
        }
    }

    /// Grey, CMYK (Adobe-inverted, as Pillow reads it), progressive and 4:4:4 files.
    func testOtherJPEGKindsMatchPillow() throws {
        let cases = try CodecFixtures.manifest().jpeg.filter { !$0.file.contains("orientation") }
        XCTAssertEqual(cases.count, 4)
        for expected in cases {
            let image = try ImageCodec.decode(contentsOf: try CodecFixtures.path(expected.file))
            XCTAssertEqual(image.format, try CodecFixtures.pixelFormat(expected.format), expected.file)
            XCTAssertEqual([image.width, image.height], [expected.width, expected.height], expected.file)
            guard image.allSamples.count == expected.samples.count else { continue }
            let mad = CodecCompare.meanAbsoluteDifference(image.allSamples, expected.samples)
            print("\(expected.file): MAD vs Pillow \(mad)")
            XCTAssertLessThan(mad, 1, "\(expected.file): MAD \(mad) from Pillow")
        }
        let grayAsRGB = try ImageCodec.decode(contentsOf: try CodecFixtures.path("jpeg/gray.jpg"), as: .rgb)
        let gray = try ImageCodec.decode(contentsOf: try CodecFixtures.path("jpeg/gray.jpg"))
        XCTAssertEqual(grayAsRGB, gray.converted(to: .rgb))
        let rgba = try ImageCodec.decode(contentsOf: try CodecFixtures.path("jpeg/progressive.jpg"), as: .rgba)
        let rgb = try ImageCodec.decode(contentsOf: try CodecFixtures.path("jpeg/progressive.jpg"))
        XCTAssertEqual(rgba, rgb.converted(to: .rgba))
    }

    /// `minimumSize` picks the smallest DCT scale that still covers the request.
    func testMinimumSizeDecodesReduced() throws {
        let path = try CodecFixtures.darknetFolder() + "/dog.jpg"
        let full = try ImageCodec.decode(contentsOf: path)
        XCTAssertEqual([full.width, full.height], [768, 576])
        let reduced = try ImageCodec.decode(contentsOf: path, as: .rgb, minimumSize: (200, 150))
        XCTAssertGreaterThanOrEqual(reduced.width, 200)
        XCTAssertGreaterThanOrEqual(reduced.height, 150)
        XCTAssertLessThan(reduced.width, 768)
        XCTAssertLessThan(reduced.height, 576)
        XCTAssertEqual([reduced.width, reduced.height], [288, 216])  // 3/8; 1/4 would be 192 wide
        let tiny = try ImageCodec.decode(contentsOf: path, minimumSize: (1, 1))
        XCTAssertEqual([tiny.width, tiny.height], [96, 72])  // 1/8, the smallest factor
        let bigger = try ImageCodec.decode(contentsOf: path, minimumSize: (1000, 1000))
        XCTAssertEqual([bigger.width, bigger.height], [768, 576])  // never enlarged
        // The request is for the upright image: orientation 6 stores 27x18 and shows 18x27.
        let turned = try ImageCodec.decode(contentsOf: try CodecFixtures.path("jpeg/orientation6.jpg"),
                                           minimumSize: (9, 14))
        XCTAssertEqual([turned.width, turned.height], [9, 14])
    }

    func testRoundTripHasSmallError() throws {
        for format in PixelFormat.allCases {
            let (width, height) = (40, 30)
            var samples = [UInt8]()
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<format.channels { samples.append(UInt8(x * 2 + y * 3 + c * 30)) }
                }
            }
            let image = Image(width: width, height: height, format: format, bytes: samples)
            let jpeg = try ImageCodec.encodeJPEG(image, quality: 95)
            XCTAssertEqual(ImageFileFormat.detect(jpeg), .jpeg)
            let back = try ImageCodec.decode(jpeg, name: "round trip")
            let expected = format.hasAlpha ? image.converted(to: format == .rgba ? .rgb : .gray) : image
            XCTAssertEqual(back.format, expected.format)
            let mad = CodecCompare.meanAbsoluteDifference(back.allSamples, expected.allSamples)
            XCTAssertLessThan(mad, 2, "\(format): MAD \(mad) after a quality-95 JPEG round trip")
        }
        let sixteen = Image(width: 8, height: 8, format: .rgb, pixels: .sixteen([UInt16](repeating: 40000, count: 192)))
        let back = try ImageCodec.decode(try ImageCodec.encodeJPEG(sixteen), name: "16-bit")
        XCTAssertLessThanOrEqual(abs(back.sample(x: 4, y: 4, channel: 0) - 156), 1)
        XCTAssertEqual(expectImageError("quality 0") { try ImageCodec.encodeJPEG(sixteen, quality: 0) }?.kind,
                       .unwritable)
    }

    func testWriteChoosesFormatByExtension() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tarsier-codec-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = Image(width: 9, height: 7, format: .rgb, bytes: (0..<189).map { UInt8($0) })
        let png = folder.appendingPathComponent("a.PNG").path
        try ImageCodec.write(image, to: png)
        XCTAssertEqual(try ImageCodec.decode(contentsOf: png), image)
        for name in ["b.jpg", "c.jpeg"] {
            let path = folder.appendingPathComponent(name).path
            try ImageCodec.write(image, to: path, quality: 80)
            let back = try ImageCodec.decode(contentsOf: path)
            XCTAssertEqual([back.width, back.height], [9, 7])
            XCTAssertEqual(ImageFileFormat.detect(try CodecFixtures.bytesAt(path)), .jpeg)
        }
        let bmp = folder.appendingPathComponent("d.bmp").path
        let error = expectImageError("write .bmp") { try ImageCodec.write(image, to: bmp) }
        XCTAssertEqual(error?.kind, .unsupported)
        XCTAssertTrue(error?.description.contains("d.bmp") ?? false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bmp))
        let missingFolder = folder.appendingPathComponent("no/such/e.png").path
        XCTAssertEqual(expectImageError("write into a missing folder") { try ImageCodec.write(image, to: missingFolder) }?.kind,
                       .unwritable)
    }
}

extension CodecFixtures {
    static func bytesAt(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CodecTestError("cannot read \(path)") }
        return [UInt8](data)
    }
}
