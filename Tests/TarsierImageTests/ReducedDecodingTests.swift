import Dispatch
import Foundation
@testable import TarsierImage
import TarsierSupport
import XCTest

/// Header reads, reduced-size JPEG decoding and the pipeline path that uses them: the same random
/// draws as the full-size path and nearly the same pixels.
final class ReducedDecodingTests: XCTestCase {
    private func darknet() throws -> [(name: String, bytes: [UInt8])] {
        let folder = try CodecFixtures.darknetFolder()
        return try ["dog", "eagle", "giraffe", "horses", "kite"].map { name in
            let path = "\(folder)/\(name).jpg"
            guard let data = FileManager.default.contents(atPath: path) else { throw CodecTestError("cannot read \(path)") }
            return (name, [UInt8](data))
        }
    }

    private let trainPipeline = TransformPipeline(
        [try! RandomResizedCrop(224), try! RandomHorizontalFlip()], planar: [Normalize.imageNet])

    func testInfoReadsTheUprightSize() throws {
        for (name, bytes) in try darknet() {
            let info = try ImageCodec.info(bytes, name: name)
            let image = try ImageCodec.decode(bytes, name: name)
            XCTAssertEqual(info, ImageInfo(format: .jpeg, size: image.size, orientation: 1), name)
        }
        let turned = try ImageCodec.info(CodecFixtures.bytes("jpeg/orientation6.jpg"), name: "o6")
        XCTAssertEqual(turned, ImageInfo(format: .jpeg, size: ImageSize(width: 18, height: 27), orientation: 6))
        let stored = try ImageCodec.info(CodecFixtures.bytes("jpeg/orientation6.jpg"), name: "o6",
                                         applyEXIFOrientation: false)
        XCTAssertEqual(stored.size, ImageSize(width: 27, height: 18))
        let png = try ImageCodec.info(CodecFixtures.bytes("png/pillow_exif6.png"), name: "p6")
        XCTAssertEqual(png, ImageInfo(format: .png, size: ImageSize(width: 48, height: 64), orientation: 6))
        XCTAssertEqual(try ImageCodec.info(CodecFixtures.bytes("png/rgb8.png"), name: "p").size,
                       try ImageCodec.decode(contentsOf: CodecFixtures.path("png/rgb8.png")).size)
        XCTAssertThrowsError(try ImageCodec.info(Array("GIF89a......".utf8), name: "g.gif")) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .unsupported, "\(error)")
        }
        XCTAssertThrowsError(try ImageCodec.info([0xFF, 0xD8, 0xFF, 0xE0, 0x00], name: "cut.jpg")) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .truncated, "\(error)")
        }
    }

    /// The smallest k/8 that is at least the scale asked for; never enlarged.
    func testDecodeReducedPicksTheSmallestFactor() throws {
        let dog = try darknet()[0].bytes
        let cases: [(Double, Double, [Int])] = [
            (0.1, 0.125, [96, 72]), (0.125, 0.125, [96, 72]), (0.2, 0.25, [192, 144]), (0.3, 0.375, [288, 216]),
            (0.5, 0.5, [384, 288]), (0.51, 0.625, [480, 360]), (0.7, 0.75, [576, 432]), (0.8, 0.875, [672, 504]),
            (0.9, 1, [768, 576]), (1, 1, [768, 576]), (3, 1, [768, 576]),
        ]
        for (asked, scale, size) in cases {
            let reduced = try dog.withUnsafeBufferPointer {
                try ImageCodec.decodeReduced($0, name: "dog", as: .rgb, minimumScale: asked)
            }
            XCTAssertEqual(reduced.scale, scale, "\(asked)")
            XCTAssertEqual([reduced.image.width, reduced.image.height], size, "\(asked)")
        }
        // The JPEG decoder's own reduction of 1/2 matches the minimumSize path.
        let half = try dog.withUnsafeBufferPointer { try ImageCodec.decodeReduced($0, name: "dog", minimumScale: 0.5) }
        XCTAssertEqual(half.image, try ImageCodec.decode(dog, name: "dog", minimumSize: (384, 288)))
        // PNG has no reduced decoding: full size, scale 1. Orientation applies to the scale's sizes.
        let png = try CodecFixtures.bytes("png/pillow_exif6.png")
        let whole = try png.withUnsafeBufferPointer { try ImageCodec.decodeReduced($0, name: "p", minimumScale: 0.1) }
        XCTAssertEqual(whole, ReducedImage(image: try ImageCodec.decode(png, name: "p"), scale: 1))
        let turned = try CodecFixtures.bytes("jpeg/orientation6.jpg").withUnsafeBufferPointer {
            try ImageCodec.decodeReduced($0, name: "o6", minimumScale: 0.5)
        }
        XCTAssertEqual([turned.image.width, turned.image.height, Int(turned.scale * 8)], [9, 14, 4])
    }

    /// JPEGs of every kind the codec reads, with their names.
    private func jpegKinds() throws -> [(String, [UInt8])] {
        var files: [(String, [UInt8])] = [("dog", try darknet()[0].bytes)]
        let restarts = ["restart_rows_420", "restart_rows3_422", "restart_blocks7_444", "restart_rows2_gray"]
        for name in ["subsampling444", "gray", "cmyk", "progressive"] + restarts + (1...8).map({ "orientation\($0)" }) {
            files.append((name, try CodecFixtures.bytes("jpeg/\(name).jpg")))
        }
        // 4:2:0, where libjpeg upsamples chroma in both directions.
        files.append(("420", try ImageCodec.encodeJPEG(makeTestImage(width: 203, height: 141), quality: 90)))
        return files
    }

    /// A region decode holds exactly the pixels of a whole decode at the same scale, for every
    /// orientation and chroma layout, at scale 1 and 1/2.
    func testRegionDecodeMatchesWholeDecode() throws {
        for (name, bytes) in try jpegKinds() {
            for format in [PixelFormat.rgb, .gray, .rgba] {
                let size = try ImageCodec.info(bytes, name: name).size
                var boxes = [
                    CropBox(top: 0, left: 0, height: size.height, width: size.width),
                    CropBox(top: size.height / 3, left: size.width / 4, height: size.height / 2, width: size.width / 3),
                    CropBox(top: 1, left: size.width - 5, height: size.height - 2, width: 5),
                    CropBox(top: size.height - 1, left: 0, height: 1, width: 1),
                ]
                var generator = SeededGenerator(seed: UInt64(size.width * 1000 + size.height))
                for _ in 0..<6 {
                    let width = 1 + generator.nextInt(below: size.width), height = 1 + generator.nextInt(below: size.height)
                    boxes.append(CropBox(top: generator.nextInt(below: size.height - height + 1),
                                         left: generator.nextInt(below: size.width - width + 1),
                                         height: height, width: width))
                }
                for minimumScale in [1.0, 0.5] {
                    let whole = try bytes.withUnsafeBufferPointer {
                        try ImageCodec.decodeReduced($0, name: name, as: format, minimumScale: minimumScale)
                    }
                    for box in boxes where box.width > 0 && box.height > 0 {
                        let part = try bytes.withUnsafeBufferPointer {
                            try ImageCodec.decodeReduced($0, name: name, as: format, minimumScale: minimumScale,
                                                         region: box)
                        }
                        let label = "\(name) \(format) \(box) at \(minimumScale)"
                        XCTAssertEqual(part.scale, whole.scale, label)
                        let plan = ReducedInputPlan(fullSize: size, minimumScale: minimumScale, region: box) { $0.image }
                        XCTAssertTrue(plan.covers(part), label)
                        // The whole pixels the box touches, in each image.
                        func hull(_ reduced: ReducedImage) -> CropBox? {
                            let s = reduced.scale
                            let x0 = (Double(box.left) * s - reduced.left).rounded(.down)
                            let y0 = (Double(box.top) * s - reduced.top).rounded(.down)
                            let x1 = (Double(box.left + box.width) * s - reduced.left).rounded(.up)
                            let y1 = (Double(box.top + box.height) * s - reduced.top).rounded(.up)
                            guard let left = Int(exactly: x0), let top = Int(exactly: y0), let right = Int(exactly: x1),
                                  let bottom = Int(exactly: y1) else { return nil }
                            return CropBox(top: top, left: left, height: bottom - top, width: right - left)
                        }
                        guard let inPart = hull(part), let inWhole = hull(whole) else {
                            XCTFail("\(label): offsets (\(part.left), \(part.top)) and (\(whole.left), \(whole.top))")
                            continue
                        }
                        // Both offsets are whole pixels apart, so the hulls are the same pixels.
                        XCTAssertEqual(Int(exactly: part.left - whole.left).map { inWhole.left - inPart.left - $0 }, 0, label)
                        let got = try ImageFunctional.crop(part.image, top: inPart.top, left: inPart.left,
                                                           height: inPart.height, width: inPart.width)
                        let expected = try ImageFunctional.crop(whole.image, top: inWhole.top, left: inWhole.left,
                                                                height: inWhole.height, width: inWhole.width)
                        XCTAssertEqual(maxDifference(got, expected), 0, label)
                    }
                }
            }
        }
    }

    /// Files with restart markers every MCU row (or every few) decode from the interval above
    /// the region on; intervals that do not start rows, or a region near the top, use the
    /// whole file.
    func testRestartBandsStartAboveTheRegion() throws {
        let dog = try darknet()[0].bytes  // 768x576, 4:4:0 (8x16 MCUs), a restart every MCU row
        let cases: [(String, [UInt8], Int, Int?)] = [
            ("dog", dog, 0, nil), ("dog", dog, 20, nil), ("dog", dog, 40, 16), ("dog", dog, 100, 80), ("dog", dog, 500, 480),
            ("420 rows", try CodecFixtures.bytes("jpeg/restart_rows_420.jpg"), 100, 80),
            ("422 3 rows", try CodecFixtures.bytes("jpeg/restart_rows3_422.jpg"), 100, 72),
            ("gray 2 rows", try CodecFixtures.bytes("jpeg/restart_rows2_gray.jpg"), 100, 80),
            ("444 7 blocks", try CodecFixtures.bytes("jpeg/restart_blocks7_444.jpg"), 50, nil),
            ("444 7 blocks", try CodecFixtures.bytes("jpeg/restart_blocks7_444.jpg"), 120, 112),
            ("no restarts", try CodecFixtures.bytes("jpeg/subsampling444.jpg"), 40, nil),
        ]
        for (name, bytes, row, skipped) in cases {
            let band = try bytes.withUnsafeBufferPointer { buffer in
                JPEGCodec.restartBand(buffer, header: try JPEGHeader.parse(buffer, name: name), firstScaledRow: row,
                                      factor: (1, 1))
            }
            XCTAssertEqual(band?.skippedRows, skipped, "\(name) from row \(row)")
        }
    }

    /// Cut-off and damaged files fail on the region path as they fail on `decode`.
    func testRegionDecodeFailsAsDecodeFails() throws {
        let dog = try darknet()[0].bytes
        let box = CropBox(top: 0, left: 0, height: 100, width: 100)
        for cut in [dog.count / 2, dog.count - 2, 700] {
            let bytes = Array(dog[..<cut])
            let kind = try XCTUnwrap(errorKind { _ = try ImageCodec.decode(bytes, name: "cut") })
            let regionKind = errorKind {
                _ = try bytes.withUnsafeBufferPointer {
                    try ImageCodec.decodeReduced($0, name: "cut", minimumScale: 0.5, region: box)
                }
            }
            XCTAssertEqual(regionKind, kind, "cut at \(cut)")
        }
        var limits = DecodeLimits.standard
        limits.maxPixels = 1000
        XCTAssertEqual(errorKind {
            _ = try dog.withUnsafeBufferPointer {
                try ImageCodec.decodeReduced($0, name: "big", limits: limits, minimumScale: 0.125, region: box)
            }
        }, .tooLarge)
    }

    /// The largest sample difference of two 8-bit images of one size (Int.max when they differ in kind).
    private func maxDifference(_ a: Image, _ b: Image) -> Int {
        guard a.size == b.size, a.format == b.format, let x = a.bytes, let y = b.bytes else { return .max }
        return zip(x, y).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// Damaged and cut-off files on the region path (libjpeg called directly, its fatal errors
    /// caught in C) give an image holding the region or an `ImageError` naming the file.
    func testRegionDecodeSurvivesCorruption() throws {
        var random = SeededGenerator(seed: 4242)
        var outcomes: [String: Int] = [:]
        for file in ["jpeg/orientation3.jpg", "jpeg/progressive.jpg", "jpeg/cmyk.jpg", "jpeg/restart_rows_420.jpg"] {
            let original = try CodecFixtures.bytes(file)
            for trial in 0..<150 {
                var bytes = original
                if trial % 3 == 2 {
                    bytes = Array(bytes[..<random.nextInt(below: bytes.count)])
                } else {
                    let at = random.nextInt(below: bytes.count)
                    bytes[at] ^= UInt8(1) << UInt8(random.nextInt(below: 8))
                }
                let name = "\(file)#\(trial)"
                let box = CropBox(top: random.nextInt(below: 10), left: random.nextInt(below: 10), height: 7, width: 9)
                do {
                    let part = try bytes.withUnsafeBufferPointer {
                        try ImageCodec.decodeReduced($0, name: name, minimumScale: 0.5, region: box)
                    }
                    let info = try ImageCodec.info(bytes, name: name)
                    let plan = ReducedInputPlan(fullSize: info.size, minimumScale: 0.5, region: box) { $0.image }
                    if box.left + box.width <= info.size.width && box.top + box.height <= info.size.height {
                        XCTAssertTrue(plan.covers(part), name)
                    }
                    outcomes["decoded", default: 0] += 1
                } catch let error as ImageError {
                    XCTAssertTrue(error.description.contains(name), "\(error)")
                    outcomes[error.kind.rawValue, default: 0] += 1
                } catch {
                    XCTFail("\(name): threw \(error), not ImageError")
                }
            }
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), 600)
        print("region decode corruption outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }

    private func errorKind(_ body: () throws -> Void) -> ImageError.Kind? {
        do {
            try body()
            return nil
        } catch {
            return (error as? ImageError)?.kind
        }
    }

    /// A box with whole-pixel edges resamples exactly as crop-then-resize.
    func testFractionalBoxResampleMatchesRegionResampleOnWholePixels() throws {
        for format in [PixelFormat.rgb, .gray, .rgba] {
            let image = makeTestImage(width: 97, height: 61, format: format)
            for filter in [ResampleFilter.triangle, .cubic] {
                let interpolation: Interpolation = filter == .triangle ? .bilinear : .bicubic
                let expected = try ImageFunctional.resizedCrop(image, top: 7, left: 11, height: 50, width: 80,
                                                               size: ImageSize(width: 23, height: 31),
                                                               interpolation: interpolation)
                let boxed = Resampler.resample(image, left: 11, top: 7, right: 91, bottom: 57, width: 23, height: 31,
                                               filter: filter)
                XCTAssertEqual(boxed, expected, "\(format) \(filter)")
            }
        }
    }

    /// The plan draws what `apply` draws, so the generator is in the same state afterwards and
    /// the flip after the crop agrees.
    func testPlanDrawsTheSameNumbersAsApply() throws {
        let crop = try RandomResizedCrop(224)
        let size = ImageSize(width: 768, height: 576)
        let image = Image(width: 768, height: 576, format: .rgb, filledWith: 9)
        for seed in UInt64(0)..<60 {
            var planned = SeededGenerator(seed: seed), applied = SeededGenerator(seed: seed)
            var boxed = SeededGenerator(seed: seed)
            let plan = try crop.plan(for: size, using: &planned)
            _ = try crop.apply(image, using: &applied)
            let box = crop.sampleBox(for: size, using: &boxed)
            XCTAssertEqual(planned, applied, "seed \(seed)")
            XCTAssertEqual(planned, boxed, "seed \(seed)")
            let expected = max(224 / Double(box.width), 224 / Double(box.height))
            XCTAssertEqual(plan.minimumScale, min(expected, 1), "seed \(seed)")
        }
        var generator = SeededGenerator(seed: 1)
        let nearest = try RandomResizedCrop(224, interpolation: .nearest).plan(for: size, using: &generator)
        XCTAssertEqual(nearest.minimumScale, 1)
        var unused = SeededGenerator(seed: 1)
        XCTAssertEqual(try Resize(256).plan(for: size, using: &unused).minimumScale, 256.0 / 576)
        XCTAssertEqual(unused, SeededGenerator(seed: 1))
        XCTAssertEqual(try Resize(576).plan(for: size, using: &unused).minimumScale, 1)
    }

    /// Where no reduction happens (PNG, a box smaller than the output, reduced decoding off), the
    /// encoded path is exactly decode-then-apply.
    func testUnreducedEncodedPathIsExact() throws {
        let png = try ImageCodec.encodePNG(makeTestImage(width: 300, height: 260))
        let dog = try darknet()[0].bytes
        let small = TransformPipeline([try RandomResizedCrop(224, scale: 0.01...0.02)], planar: [Normalize.imageNet])
        let cases: [(String, [UInt8], TransformPipeline, Bool)] = [
            ("png", png, trainPipeline, true), ("small box", dog, small, true), ("off", dog, trainPipeline, false),
        ]
        for (label, bytes, pipeline, reduced) in cases {
            let image = try ImageCodec.decode(bytes, name: label, as: .rgb)
            for seed in UInt64(0)..<6 {
                let plain = try pipeline.apply(image, seed: seed)
                let encoded = try bytes.withUnsafeBufferPointer {
                    try pipeline.apply(encoded: $0, name: label, as: .rgb, reducedDecoding: reduced, seed: seed)
                }
                XCTAssertEqual(encoded, plain, "\(label) seed \(seed)")
            }
        }
    }

    /// The reduced path's output against the full-size path's on the darknet photographs,
    /// RandomResizedCrop(224) + flip + Normalize(ImageNet), 20 seeds per photograph. Measured:
    /// mean absolute difference 0.019 in normalised units over all 100 crops (the 16 decoded at
    /// scale 1 are exact), 0.023 (about 1.3 levels of 255) over the 84 decoded at 7/8 or less,
    /// and 0.061 for the worst crop (40 seeds: 0.019, 0.023 and 0.072). For scale: another box
    /// gives 0.76, a wrong flip 0.31.
    func testReducedPathIsCloseToFullPath() throws {
        var total = 0.0, count = 0, worst = 0.0, reducedCount = 0
        var reducedTotal = 0.0
        for (name, bytes) in try darknet() {
            let image = try ImageCodec.decode(bytes, name: name, as: .rgb)
            let info = try ImageCodec.info(bytes, name: name)
            for seed in UInt64(0)..<20 {
                let plain = try trainPipeline.apply(image, seed: seed)
                let fast = try bytes.withUnsafeBufferPointer {
                    try trainPipeline.apply(encoded: $0, name: name, as: .rgb, seed: seed)
                }
                XCTAssertEqual(fast.shape, plain.shape)
                var generator = SeededGenerator(seed: seed)
                let sum = zip(fast.values, plain.values).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) }
                if try RandomResizedCrop(224).plan(for: info.size, using: &generator).minimumScale <= 0.875 {
                    reducedCount += 1
                    reducedTotal += sum
                }
                let mean = sum / Double(plain.values.count)
                worst = max(worst, mean)
                total += sum
                count += plain.values.count
            }
        }
        let mean = total / Double(count)
        let reducedMean = reducedTotal / Double(reducedCount * 3 * 224 * 224)
        print("reduced vs full decoding: mean |difference| \(mean) (normalised), worst image \(worst), "
              + "\(reducedCount) of 100 crops decoded at 7/8 or less, their mean \(reducedMean)")
        XCTAssertGreaterThan(reducedCount, 60)
        XCTAssertLessThan(mean, 0.03)
        XCTAssertLessThan(reducedMean, 0.035)
        XCTAssertLessThan(worst, 0.1)
    }

    /// Resize (shorter side) then CenterCrop, the evaluation pipeline, also decodes reduced.
    func testResizeThenCenterCropIsCloseToFullPath() throws {
        let pipeline = TransformPipeline([try Resize(128), try CenterCrop(112)], planar: [Normalize.imageNet])
        for (name, bytes) in try darknet() {
            let plain = try pipeline.apply(try ImageCodec.decode(bytes, name: name, as: .rgb), seed: 0)
            let fast = try bytes.withUnsafeBufferPointer { try pipeline.apply(encoded: $0, name: name, as: .rgb, seed: 0) }
            XCTAssertEqual(fast.shape, [3, 112, 112])
            let mean = zip(fast.values, plain.values).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) }
                / Double(plain.values.count)
            XCTAssertLessThan(mean, 0.05, name)
        }
    }

    /// Same seed, same output, whichever thread runs it.
    func testReducedPathIsDeterministicAcrossThreads() throws {
        let files = try darknet()
        let pipeline = trainPipeline
        func run(_ index: Int) throws -> PlanarImage {
            let (name, bytes) = files[index % files.count]
            return try bytes.withUnsafeBufferPointer {
                try pipeline.apply(encoded: $0, name: name, as: .rgb, seed: UInt64(index))
            }
        }
        let serial = try (0..<20).map(run)
        let results = LockedResults(count: 20)
        DispatchQueue.concurrentPerform(iterations: 20) { index in results.set(index, Result { try run(index) }) }
        for index in 0..<20 { XCTAssertEqual(try results.get(index).get(), serial[index], "image \(index)") }
    }
}

/// Results written by concurrent iterations.
private final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<PlanarImage, Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<PlanarImage, Error>) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> Result<PlanarImage, Error> {
        lock.lock()
        defer { lock.unlock() }
        return values[index] ?? .failure(CodecTestError("no result for \(index)"))
    }
}
