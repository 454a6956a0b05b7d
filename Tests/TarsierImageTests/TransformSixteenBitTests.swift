import TarsierImage
import TarsierSupport
import XCTest

/// 16-bit images go through the same steps at their own depth: each result, scaled to 8 bits,
/// lands within a stated distance of the 8-bit result (exactly where no arithmetic is involved).
final class TransformSixteenBitTests: XCTestCase {
    private let image8 = makeTestImage(width: 33, height: 27, seed: 3)
    private var image16: Image { sixteenBit(image8) }

    /// Max difference, on the 8-bit scale, between the 16-bit result and the 8-bit one. The 8-bit
    /// paths truncate and round between steps as Pillow does, so up to about 1.5 is expected from
    /// them alone; hue is quantised to 1/255 of a turn at 8 bits, which moves colours further.
    private func error(_ op: (Image) throws -> Image) throws -> (max: Double, mean: Double) {
        let a = try op(image8), b = try op(image16)
        XCTAssertEqual(a.size, b.size)
        XCTAssertEqual(a.format, b.format)
        XCTAssertEqual(b.bitDepth, 16)
        let diffs = zip(samples(a), samples(b)).map { abs(Double($0) - Double($1) / 257) }
        return (diffs.max() ?? 0, diffs.reduce(0, +) / Double(max(diffs.count, 1)))
    }

    func testSixteenBitMatchesEightBit() throws {
        let cases: [(String, Double, (Image) throws -> Image)] = [
            ("hflip", 0, { ImageFunctional.horizontalFlip($0) }),
            ("vflip", 0, { ImageFunctional.verticalFlip($0) }),
            ("centerCrop", 0, { try ImageFunctional.centerCrop($0, height: 30, width: 20) }),
            ("pad reflect", 0, { try ImageFunctional.pad($0, padding: 5, mode: .reflect) }),
            ("rotate nearest", 0, { try ImageFunctional.rotate($0, angle: 90, expand: true) }),
            ("resize bilinear", 1.5, { try ImageFunctional.resize($0, height: 10, width: 13) }),
            ("resize bicubic up", 1.5, { try ImageFunctional.resize($0, height: 50, width: 61, interpolation: .bicubic) }),
            ("resizedCrop", 1.5, { try ImageFunctional.resizedCrop($0, top: 2, left: 3, height: 20, width: 17, size: ImageSize(width: 9, height: 9)) }),
            ("rotate bilinear", 1.5, { try ImageFunctional.rotate($0, angle: 33, interpolation: .bilinear) }),
            ("affine bicubic", 1.5, { try ImageFunctional.affine($0, angle: 10, scale: 1.2, interpolation: .bicubic) }),
            ("brightness", 1.5, { try ImageFunctional.adjustBrightness($0, factor: 1.3) }),
            ("contrast", 1.5, { try ImageFunctional.adjustContrast($0, factor: 0.6) }),
            ("saturation", 1.5, { try ImageFunctional.adjustSaturation($0, factor: 1.7) }),
            ("sharpness", 1.5, { try ImageFunctional.adjustSharpness($0, factor: 2) }),
            ("hue", 12, { try ImageFunctional.adjustHue($0, factor: 0.2) }),
            ("grayscale", 1.5, { try ImageFunctional.rgbToGrayscale($0, outputChannels: 3) }),
            ("posterize", 1, { try ImageFunctional.posterize($0, bits: 3) }),
            ("solarize", 0, { try ImageFunctional.solarize($0, threshold: 128) }),
            ("invert", 0, { ImageFunctional.invert($0) }),
            ("autocontrast", 1.5, { ImageFunctional.autocontrast($0) }),
        ]
        for (name, tolerance, op) in cases {
            let e = try error(op)
            print("16-bit vs 8-bit \(name): max \(e.max), mean \(e.mean) (8-bit scale)")
            XCTAssertLessThanOrEqual(e.max, tolerance + 0.5 / 257, name)
            XCTAssertLessThan(e.mean, 1, name)
        }
    }

    func testEqualizeSixteenBit() throws {
        // Pillow's 8-bit step is `(count - top count) // 255`, truncated: coarse for small images, so
        // compare on one large enough for the truncation to be small.
        let large = makeTestImage(width: 300, height: 250, seed: 4)
        let a = ImageFunctional.equalize(large), b = ImageFunctional.equalize(sixteenBit(large))
        let diffs = zip(samples(a), samples(b)).map { abs(Double($0) - Double($1) / 257) }
        print("16-bit vs 8-bit equalize: max \(diffs.max() ?? 0), mean \(diffs.reduce(0, +) / Double(diffs.count))")
        XCTAssertLessThanOrEqual(diffs.max() ?? 0, 2)
    }

    func testNearestResizeSixteenBit() throws {
        // 16-bit nearest computes each position directly (Pillow's generic path) rather than by
        // repeated addition, so an edge index can differ; the pictures agree almost everywhere.
        let a = try ImageFunctional.resize(image8, height: 11, width: 14, interpolation: .nearest)
        let b = try ImageFunctional.resize(image16, height: 11, width: 14, interpolation: .nearest)
        let same = zip(samples(a), samples(b)).filter { $0 * 257 == $1 }.count
        XCTAssertGreaterThan(Double(same) / Double(samples(a).count), 0.95)
    }

    func testPipelineOnSixteenBit() throws {
        let pipeline = TransformPipeline([try RandomResizedCrop(16), try RandomHorizontalFlip(), try TrivialAugmentWide()],
                                         planar: [Normalize.imageNet])
        let out = try pipeline.apply(image16, seed: 5)
        XCTAssertEqual(out.shape, [3, 16, 16])
        XCTAssertEqual(out, try pipeline.apply(image16, seed: 5))
    }
}
