import Dispatch
import Foundation
import TarsierImage
import TarsierSupport
import XCTest

/// The random transforms: reproducible from the seed, varied across seeds, and drawing from the
/// distributions torchvision draws from.
final class TransformRandomTests: XCTestCase {
    private let image = makeTestImage(width: 48, height: 36)

    private func randomTransforms() throws -> [(String, any ImageTransform)] {
        [
            ("RandomCrop", try RandomCrop(24, padding: 4, paddingMode: .reflect)),
            ("RandomResizedCrop", try RandomResizedCrop(20)),
            ("RandomHorizontalFlip", try RandomHorizontalFlip()),
            ("RandomVerticalFlip", try RandomVerticalFlip()),
            ("RandomRotation", try RandomRotation(degrees: 40, interpolation: .bilinear)),
            ("RandomAffine", try RandomAffine(degrees: 20, translate: (0.2, 0.1), scale: 0.8...1.2, shear: 10)),
            ("ColorJitter", try ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)),
            ("RandomGrayscale", try RandomGrayscale(p: 0.5)),
            ("TrivialAugmentWide", try TrivialAugmentWide()),
            ("RandAugment", try RandAugment()),
            ("RandomApply", try RandomApply([RandomRotation(degrees: 90)], p: 0.5)),
        ]
    }

    func testSameSeedSameOutputDifferentSeedsDiffer() throws {
        for (name, transform) in try randomTransforms() {
            let first = try transform.apply(image, seed: 42)
            XCTAssertEqual(first, try transform.apply(image, seed: 42), "\(name) is not reproducible")
            let outputs = try (0..<12).map { try transform.apply(image, seed: UInt64($0)) }
            XCTAssertGreaterThan(Set(outputs.map { samples($0) }).count, 1, "\(name) gives one output for 12 seeds")
        }
        let erasing = try RandomErasing(p: 1, value: .random)
        let planar = image.planar()
        XCTAssertEqual(try erasing.apply(planar, seed: 3), try erasing.apply(planar, seed: 3))
        XCTAssertNotEqual(try erasing.apply(planar, seed: 3), try erasing.apply(planar, seed: 4))
    }

    func testRandomResizedCropBoxesObeyScaleAndRatio() throws {
        let crop = try RandomResizedCrop(224, scale: 0.08...1, ratio: (3.0 / 4)...(4.0 / 3))
        var generator = SeededGenerator(seed: 1)
        var fractions: [Double] = []
        for (width, height) in [(768, 576), (500, 375), (300, 900), (64, 64)] {
            let area = Double(width * height)
            for _ in 0..<2000 {
                let box = crop.sampleBox(for: ImageSize(width: width, height: height), using: &generator)
                XCTAssertTrue(box.left >= 0 && box.top >= 0 && box.width > 0 && box.height > 0
                              && box.left + box.width <= width && box.top + box.height <= height, "\(box)")
                let w = Double(box.width), h = Double(box.height)
                // Width and height are rounded, so allow half a pixel either way.
                XCTAssertGreaterThanOrEqual((w + 0.5) * (h + 0.5) / area, 0.08, "\(box) in \(width)x\(height)")
                XCTAssertLessThanOrEqual((w - 0.5) * (h - 0.5) / area, 1.0, "\(box)")
                XCTAssertGreaterThanOrEqual((w + 0.5) / (h - 0.5), 3.0 / 4, "\(box)")
                XCTAssertLessThanOrEqual((w - 0.5) / (h + 0.5), 4.0 / 3, "\(box)")
                if width == 768 { fractions.append(w * h / area) }
            }
        }
        // The area fraction covers the range (uniform in 0.08...1, though large boxes fit less often).
        XCTAssertLessThan(fractions.min() ?? 1, 0.1)
        XCTAssertGreaterThan(fractions.max() ?? 0, 0.9)
    }

    func testRandomResizedCropFallsBackToCentralCrop() throws {
        // An area of 150-200% of the image never fits: the centre crop at the nearest allowed ratio.
        let crop = try RandomResizedCrop(32, scale: 1.5...2, ratio: (3.0 / 4)...(4.0 / 3))
        var generator = SeededGenerator(seed: 5)
        XCTAssertEqual(crop.sampleBox(for: ImageSize(width: 100, height: 50), using: &generator),
                       CropBox(top: 0, left: 16, height: 50, width: 67))  // w = round(50 * 4/3), left = 33 // 2
        XCTAssertEqual(crop.sampleBox(for: ImageSize(width: 40, height: 100), using: &generator),
                       CropBox(top: 23, left: 0, height: 53, width: 40))  // h = round(40 / (3/4))
        XCTAssertEqual(crop.sampleBox(for: ImageSize(width: 60, height: 50), using: &generator),
                       CropBox(top: 0, left: 0, height: 50, width: 60))  // ratio already allowed: whole image
        // A very wide image with the default scale also falls back.
        let standard = try RandomResizedCrop(32)
        XCTAssertEqual(standard.sampleBox(for: ImageSize(width: 2000, height: 10), using: &generator),
                       CropBox(top: 0, left: 993, height: 10, width: 13))
        let output = try crop.apply(makeTestImage(width: 100, height: 50), seed: 0)
        XCTAssertEqual(output.size, ImageSize(width: 32, height: 32))
    }

    func testFlipProbability() throws {
        let tiny = makeTestImage(width: 3, height: 2, format: .gray)
        let flipped = ImageFunctional.horizontalFlip(tiny)
        for p in [0.0, 0.3, 0.5, 1.0] {
            let flip = try RandomHorizontalFlip(p: p)
            var generator = SeededGenerator(seed: 11)
            var count = 0
            for _ in 0..<2000 where try flip.apply(tiny, using: &generator) == flipped { count += 1 }
            let expected = 2000 * p, sigma = (2000 * p * (1 - p)).squareRoot()
            XCTAssertLessThanOrEqual(abs(Double(count) - expected), 4 * sigma + 0.5, "p \(p): \(count) flips of 2000")
        }
        let vertical = try RandomVerticalFlip(p: 0.25)
        var generator = SeededGenerator(seed: 12)
        var count = 0
        let vflipped = ImageFunctional.verticalFlip(tiny)
        for _ in 0..<2000 where try vertical.apply(tiny, using: &generator) == vflipped { count += 1 }
        XCTAssertLessThanOrEqual(abs(Double(count) - 500), 4 * (2000 * 0.25 * 0.75).squareRoot())
    }

    func testPipelineIsDeterministicAcrossThreads() throws {
        let pipeline = TransformPipeline(
            [try RandomResizedCrop(24), try RandomHorizontalFlip(), try ColorJitter(brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05),
             try RandomRotation(degrees: 10, interpolation: .bilinear), try TrivialAugmentWide()],
            planar: [Normalize.imageNet, try RandomErasing(p: 0.7, value: .random)])
        let inputs = (0..<48).map { makeTestImage(width: 40 + $0 % 9, height: 30 + $0 % 7, seed: UInt64($0)) }
        let serial = try inputs.enumerated().map { try pipeline.apply($0.element, seed: 1000 + UInt64($0.offset)) }
        let lock = NSLock()
        var parallel = [PlanarImage?](repeating: nil, count: inputs.count)
        var failure: Error?
        DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
            do {
                let result = try pipeline.apply(inputs[i], seed: 1000 + UInt64(i))
                lock.lock()
                parallel[i] = result
                lock.unlock()
            } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
        }
        XCTAssertNil(failure)
        XCTAssertEqual(parallel.compactMap { $0 }, serial)
        XCTAssertTrue(serial.allSatisfy { $0.shape == [3, 24, 24] })
    }

    func testDrawOrderIsFixed() throws {
        // RandomCrop of the image's own size draws nothing, as torchvision's get_params.
        let crop = try RandomCrop(height: 36, width: 48)
        var generator = SeededGenerator(seed: 9)
        let before = generator
        XCTAssertEqual(try crop.apply(image, using: &generator), image)
        XCTAssertEqual(generator, before)
        // A flip always draws exactly one number, flipped or not.
        let flip = try RandomHorizontalFlip(p: 0.5)
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        _ = try flip.apply(image, using: &a)
        _ = b.nextUnitDouble()
        XCTAssertEqual(a, b)
        // ColorJitter: a permutation of four, then one factor per enabled adjustment.
        let jitter = try ColorJitter(brightness: 0.5, hue: 0.2)
        var g = SeededGenerator(seed: 4)
        let p = jitter.sampleParameters(using: &g)
        XCTAssertEqual(p.order.sorted(), [0, 1, 2, 3])
        XCTAssertNil(p.contrast)
        XCTAssertNil(p.saturation)
        XCTAssertTrue((0.5...1.5).contains(try XCTUnwrap(p.brightness)))
        XCTAssertTrue((-0.2...0.2).contains(try XCTUnwrap(p.hue)))
    }

    func testRandomAffineParametersStayInRange() throws {
        let affine = try RandomAffine(degrees: -5...15, translate: (0.25, 0.5), scale: 0.9...1.1,
                                      shearX: -3...3, shearY: 4...6)
        var generator = SeededGenerator(seed: 2)
        for _ in 0..<500 {
            let p = affine.sampleParameters(for: ImageSize(width: 40, height: 20), using: &generator)
            XCTAssertTrue((-5...15).contains(p.angle))
            XCTAssertTrue(abs(p.translate.x) <= 10 && abs(p.translate.y) <= 10)
            XCTAssertEqual(p.translate.x, p.translate.x.rounded())
            XCTAssertTrue((0.9...1.1).contains(p.scale))
            XCTAssertTrue((-3...3).contains(p.shear.x) && (4...6).contains(p.shear.y))
        }
    }

    func testRandomErasingBoxes() throws {
        let planar = PlanarImage(channels: 3, height: 40, width: 50, values: [Float](repeating: 1, count: 6000))
        let erasing = try RandomErasing(p: 1, value: .constant([0]))
        var generator = SeededGenerator(seed: 8)
        var erasedCount = 0
        for _ in 0..<300 {
            let out = try erasing.apply(planar, using: &generator)
            let zeros = out.values.filter { $0 == 0 }.count
            XCTAssertEqual(zeros % 3, 0)
            if zeros > 0 { erasedCount += 1 }
            XCTAssertLessThanOrEqual(Double(zeros / 3), 0.33 * 2000 * 1.25)
        }
        XCTAssertGreaterThan(erasedCount, 250)
        // p = 0 never erases (but still draws its one number).
        let never = try RandomErasing(p: 0)
        XCTAssertEqual(try never.apply(planar, seed: 1), planar)
    }

    func testTrivialAugmentWideDrawsEveryOperation() throws {
        let augment = try TrivialAugmentWide()
        var generator = SeededGenerator(seed: 21)
        var seen = Set<AugmentOperation>()
        for _ in 0..<1000 {
            let (operation, magnitude) = augment.sampleOperation(using: &generator)
            seen.insert(operation)
            if let bins = augment.magnitudes(of: operation) {
                XCTAssertTrue(bins.contains(abs(magnitude)) || bins.contains(magnitude), "\(operation) \(magnitude)")
            } else {
                XCTAssertEqual(magnitude, 0)
            }
            if operation == .posterize || operation == .solarize { XCTAssertGreaterThanOrEqual(magnitude, 0) }
        }
        XCTAssertEqual(seen.count, AugmentOperation.allCases.count)
        // Every operation runs on RGB, grey, RGBA and 16-bit images.
        for operation in AugmentOperation.allCases {
            for input in [image, image.converted(to: .gray), image.converted(to: .rgba), sixteenBit(image)] {
                let out = try operation.apply(input, magnitude: operation == .posterize ? 4 : 0.5)
                XCTAssertEqual(out.size, input.size, "\(operation)")
                XCTAssertEqual(out.format, input.format, "\(operation)")
            }
        }
    }
}
