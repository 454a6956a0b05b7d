import Foundation
import TarsierSupport
import XCTest
@testable import TarsierImage

final class CodecPNGTests: XCTestCase {
    /// Every colour type and bit depth, interlaced or not, decodes to Pillow's samples exactly.
    func testFixturesDecodeExactlyAsPillow() throws {
        let manifest = try CodecFixtures.manifest()
        XCTAssertGreaterThanOrEqual(manifest.png.count, 25)
        for expected in manifest.png {
            let image = try ImageCodec.decode(contentsOf: try CodecFixtures.path(expected.file))
            XCTAssertEqual(image.width, expected.width, expected.file)
            XCTAssertEqual(image.height, expected.height, expected.file)
            XCTAssertEqual(image.format, try CodecFixtures.pixelFormat(expected.format), expected.file)
            XCTAssertEqual(image.bitDepth, expected.bitDepth, expected.file)
            let samples = image.allSamples
            XCTAssertEqual(samples.count, expected.samples.count, expected.file)
            if samples.count == expected.samples.count {
                let firstDifference = samples.indices.first { samples[$0] != expected.samples[$0] }
                XCTAssertNil(firstDifference, "\(expected.file): sample \(firstDifference ?? -1) differs, "
                             + "MAD \(CodecCompare.meanAbsoluteDifference(samples, expected.samples))")
            }
        }
    }

    /// `as:` gives what Pillow's `convert` gives, tRNS included where Pillow uses it.
    func testConversionsMatchPillow() throws {
        let manifest = try CodecFixtures.manifest()
        XCTAssertGreaterThanOrEqual(manifest.pngConversions.count, 10)
        for expected in manifest.pngConversions {
            let target = try CodecFixtures.pixelFormat(try XCTUnwrap(expected.as))
            let image = try ImageCodec.decode(contentsOf: try CodecFixtures.path(expected.file), as: target)
            let context = "\(expected.file) as \(target)"
            XCTAssertEqual(image.format, target, context)
            XCTAssertEqual(image.width, expected.width, context)
            XCTAssertEqual(image.height, expected.height, context)
            XCTAssertEqual(image.bitDepth, 8, context)
            let samples = image.allSamples
            guard samples.count == expected.samples.count else {
                XCTFail("\(context): \(samples.count) samples, expected \(expected.samples.count)")
                continue
            }
            XCTAssertLessThanOrEqual(CodecCompare.maxAbsoluteDifference(samples, expected.samples), expected.tolerance ?? 0,
                                     "\(context): MAD \(CodecCompare.meanAbsoluteDifference(samples, expected.samples))")
        }
    }

    /// 16-bit files keep 16 bits whatever the target layout.
    func testSixteenBitConversionsKeepDepth() throws {
        let image = try ImageCodec.decode(contentsOf: try CodecFixtures.path("png/gray16.png"), as: .rgb)
        XCTAssertEqual(image.format, .rgb)
        XCTAssertEqual(image.bitDepth, 16)
        let gray = try ImageCodec.decode(contentsOf: try CodecFixtures.path("png/gray16.png"))
        XCTAssertEqual(image.sample(x: 3, y: 2, channel: 1), gray.sample(x: 3, y: 2, channel: 0))
        let rgba = try ImageCodec.decode(contentsOf: try CodecFixtures.path("png/rgb16.png"), as: .rgba)
        XCTAssertEqual(rgba.bitDepth, 16)
        XCTAssertEqual(rgba.sample(x: 0, y: 0, channel: 3), 65535)
    }

    /// An eXIf chunk's orientation is applied, as Pillow's `exif_transpose` does; opting out
    /// gives the stored pixels.
    func testPNGEXIFOrientation() throws {
        let path = try CodecFixtures.path("png/pillow_exif6.png")
        let upright = try ImageCodec.decode(contentsOf: path)
        XCTAssertEqual([upright.width, upright.height], [48, 64])
        let stored = try ImageCodec.decode(contentsOf: path, applyEXIFOrientation: false)
        XCTAssertEqual([stored.width, stored.height], [64, 48])
        let plain = try ImageCodec.decode(contentsOf: try CodecFixtures.path("png/pillow_photo.png"))
        XCTAssertEqual(stored, plain)
    }

    /// encodePNG then decode gives the image back bit for bit, for every format and depth.
    func testRoundTripIsExact() throws {
        var random = SeededGenerator(seed: 7)
        for format in PixelFormat.allCases {
            for (width, height) in [(1, 1), (17, 5), (64, 33)] {
                let count = width * height * format.channels
                let eight = Image(width: width, height: height, format: format,
                                  bytes: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                let sixteen = Image(width: width, height: height, format: format,
                                    pixels: .sixteen((0..<count).map { _ in UInt16(truncatingIfNeeded: random.next()) }))
                for image in [eight, sixteen] {
                    let png = try ImageCodec.encodePNG(image)
                    XCTAssertEqual(ImageFileFormat.detect(png), .png)
                    let back = try ImageCodec.decode(png, name: "round trip")
                    XCTAssertEqual(back, image, "\(format) \(image.bitDepth)-bit \(width)x\(height)")
                }
            }
        }
    }

    func testOutputPlanUsesTransparencyOnlyWherePillowDoes() {
        let palette = UInt8(3), gray = UInt8(0), rgb = UInt8(2)
        XCTAssertEqual(PNGCodec.outputPlan(colorType: palette, deep: false, hasTransparency: true, target: nil).format, .rgba)
        XCTAssertEqual(PNGCodec.outputPlan(colorType: palette, deep: false, hasTransparency: false, target: nil).format, .rgb)
        XCTAssertEqual(PNGCodec.outputPlan(colorType: gray, deep: false, hasTransparency: true, target: nil).format, .gray)
        XCTAssertEqual(PNGCodec.outputPlan(colorType: rgb, deep: false, hasTransparency: true, target: .rgb).flags, 0)
        XCTAssertNotEqual(PNGCodec.outputPlan(colorType: rgb, deep: false, hasTransparency: true, target: .rgba).flags, 0)
        XCTAssertTrue(PNGCodec.outputPlan(colorType: rgb, deep: true, hasTransparency: false, target: nil).sixteen)
    }
}
