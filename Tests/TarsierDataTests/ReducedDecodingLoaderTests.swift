import Foundation
import XCTest
import TarsierImage
import TarsierSupport
@testable import TarsierData

/// The loader's reduced-size JPEG decoding: deterministic for any thread count, the same draws as
/// full-size decoding, and off on request.
final class ReducedDecodingLoaderTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "tarsier-reduced-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// JPEG photographs-to-be: smooth gradients with texture, 4:2:0, of several sizes.
    private func jpegFolder(count: Int) throws -> ImageFileDataset {
        var generator = SeededGenerator(seed: 11)
        for i in 0..<count {
            let width = 300 + 37 * i, height = 220 + 23 * (i % 3)
            var bytes = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    let noise = Int(generator.nextInt(below: 31)) - 15
                    bytes[(y * width + x) * 3] = UInt8(clamping: 255 * x / width + noise)
                    bytes[(y * width + x) * 3 + 1] = UInt8(clamping: 255 * y / height - noise)
                    bytes[(y * width + x) * 3 + 2] = UInt8(clamping: (x * y) % 256)
                }
            }
            let path = "\(root)/\(i % 2 == 0 ? "even" : "odd")/\(i).jpg"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try ImageCodec.write(Image(width: width, height: height, format: .rgb, bytes: bytes), to: path)
        }
        return try ImageFolder.load(root: root)
    }

    private func allBatches(_ loader: ImageFileLoader, epoch: Int) throws -> [Batch] {
        try loader.batches(epoch: epoch).remainingBatches()
    }

    func testReducedDecodingIsDeterministicAndCloseToFullDecoding() throws {
        let dataset = try jpegFolder(count: 9)
        let pipeline = TransformPipeline([try RandomResizedCrop(64), try RandomHorizontalFlip()],
                                         planar: [Normalize.imageNet])
        func loader(workers: Int, reduced: Bool = true) -> ImageFileLoader {
            ImageFileLoader(dataset: dataset, transforms: pipeline, batchSize: 4, seed: 5, workers: workers,
                            prefetch: 1, reducedDecoding: reduced)
        }
        let serial = try allBatches(loader(workers: 0), epoch: 2)
        XCTAssertEqual(serial.map(\.count), [4, 4, 1])
        XCTAssertEqual(serial[0].shape, [4, 3, 64, 64])
        for workers in [1, 3] {
            XCTAssertEqual(try allBatches(loader(workers: workers), epoch: 2), serial, "\(workers) workers")
        }

        // Full-size decoding is decode-then-apply with each image's seed.
        let full = try allBatches(loader(workers: 2, reduced: false), epoch: 2)
        XCTAssertEqual(full.flatMap(\.indices), serial.flatMap(\.indices))
        let plain = loader(workers: 0, reduced: false)
        for batch in full {
            for (slot, index) in batch.indices.enumerated() {
                let image = try ImageCodec.decode(contentsOf: dataset.samples[index].path, as: .rgb)
                let seed = mixSeed(mixSeed(plain.seed, 2, 0x4155_474D), UInt64(index), 0)
                let expected = try pipeline.apply(image, seed: seed)
                let size = expected.values.count
                XCTAssertEqual(Array(batch.images[(slot * size)..<((slot + 1) * size)]), expected.values, "image \(index)")
            }
        }

        // The same crops and flips: every image is close to its full-size twin (a wrong box or
        // flip on these gradients gives a mean difference of 0.3 and more).
        let size = 3 * 64 * 64
        var reducedSome = false
        for (fast, slow) in zip(serial, full) {
            for slot in 0..<fast.count {
                let range = (slot * size)..<((slot + 1) * size)
                let mean = zip(fast.images[range], slow.images[range]).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) }
                    / Double(size)
                XCTAssertLessThan(mean, 0.1, "image \(fast.indices[slot])")
                if mean > 0 { reducedSome = true }
            }
        }
        XCTAssertTrue(reducedSome, "no image was decoded at reduced size")
    }
}
