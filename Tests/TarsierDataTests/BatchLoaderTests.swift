import Foundation
import XCTest
@testable import TarsierData

final class BatchLoaderTests: XCTestCase {
    /// `count` copies of one 3x4 grey image with pixels 1...12 (no zeros, so padding shows).
    static func copies(_ count: Int, channels: Int = 1) -> ImageClassificationSet {
        let image = (0..<(channels * 12)).map { UInt8(1 + $0 * 20 % 251) }
        return ImageClassificationSet(images: Array((0..<count).map { _ in image }.joined()),
                                      labels: (0..<count).map { $0 % 3 }, channels: channels, height: 3, width: 4,
                                      classNames: ["a", "b", "c"])
    }

    /// The reference transform, written the slow obvious way: pad with zeros, crop, mirror.
    static func reference(_ image: ArraySlice<UInt8>, channels: Int, height: Int, width: Int, pad: Int,
                          dy: Int, dx: Int, flip: Bool, mean: [Float], std: [Float]) -> [Float] {
        let pixels = Array(image)
        var out: [Float] = []
        for c in 0..<channels {
            var padded = [[UInt8]](repeating: [UInt8](repeating: 0, count: width + 2 * pad), count: height + 2 * pad)
            for y in 0..<height { for x in 0..<width { padded[y + pad][x + pad] = pixels[(c * height + y) * width + x] } }
            for y in 0..<height {
                var row = (0..<width).map { padded[y + dy][$0 + dx] }
                if flip { row.reverse() }
                let m = mean.count == 1 ? mean[0] : mean[c], s = std.count == 1 ? std[0] : std[c]
                out += row.map { (Float($0) / 255 - m) / s }
            }
        }
        return out
    }

    func testNormalisationWithoutAugmentation() {
        let set = Self.copies(5)
        let loader = InMemoryBatchLoader(dataset: set, batchSize: 2, shuffle: false, mean: [0.5], std: [0.25])
        let batches = Array(loader)
        XCTAssertEqual(batches.map(\.count), [2, 2, 1])
        XCTAssertEqual(batches[0].shape, [2, 1, 3, 4])
        XCTAssertEqual(batches[2].shape, [1, 1, 3, 4])
        XCTAssertEqual(batches.flatMap(\.indices), [0, 1, 2, 3, 4])
        XCTAssertEqual(batches.flatMap(\.labels), [0, 1, 2, 0, 1])
        XCTAssertEqual(batches[0].images[0], (1 / 255 - 0.5) / 0.25)
        XCTAssertEqual(batches[0].images[11], (Float(1 + 11 * 20 % 251) / 255 - 0.5) / 0.25)
        let expected = Self.reference(set.image(at: 4), channels: 1, height: 3, width: 4, pad: 0, dy: 0, dx: 0,
                                      flip: false, mean: [0.5], std: [0.25])
        XCTAssertEqual(batches[2].images, expected)
    }

    func testFlipOnlyMirrorsEveryImage() {
        let set = Self.copies(4)
        let loader = InMemoryBatchLoader(dataset: set, batchSize: 4, shuffle: false, mean: [0], std: [1],
                                         augmentation: Augmentation(horizontalFlipProbability: 1))
        let images = loader.batch(at: 0).images
        let mirrored = Self.reference(set.image(at: 0), channels: 1, height: 3, width: 4, pad: 0, dy: 0, dx: 0,
                                      flip: true, mean: [0], std: [1])
        XCTAssertEqual(Array(images[0..<12]), mirrored)
        XCTAssertEqual(Array(images[0..<4]), [4, 3, 2, 1].map { Float(1 + ($0 - 1) * 20 % 251) / 255 })
    }

    /// Every augmented image equals one of the (2p+1)^2 x 2 reference crops, and all of them occur.
    func testCropAndFlipMatchReference() {
        for channels in [1, 3] {
            let set = Self.copies(400, channels: channels)
            let mean: [Float] = channels == 1 ? [0.3] : [0.3, 0.4, 0.5]
            let std: [Float] = channels == 1 ? [0.2] : [0.2, 0.3, 0.4]
            let pad = 2
            let loader = InMemoryBatchLoader(dataset: set, batchSize: 64, seed: 7, mean: mean, std: std,
                                             augmentation: .cropAndFlip(padding: pad), prefetch: 0)
            var candidates: [[Float]: String] = [:]
            for dy in 0...(2 * pad) {
                for dx in 0...(2 * pad) {
                    for flip in [false, true] {
                        candidates[Self.reference(set.image(at: 0), channels: channels, height: 3, width: 4, pad: pad,
                                                  dy: dy, dx: dx, flip: flip, mean: mean, std: std)]
                            = "\(dy),\(dx),\(flip)"
                    }
                }
            }
            XCTAssertEqual(candidates.count, 50)
            var seen: [String: Int] = [:]
            let size = channels * 12
            for batch in loader {
                for i in 0..<batch.count {
                    let image = Array(batch.images[(i * size)..<((i + 1) * size)])
                    guard let name = candidates[image] else { return XCTFail("image \(i) matches no reference crop") }
                    seen[name, default: 0] += 1
                }
            }
            XCTAssertEqual(seen.count, 50, "not every offset and flip occurred")
            let flips = seen.filter { $0.key.hasSuffix("true") }.values.reduce(0, +)
            XCTAssertEqual(Double(flips) / 400, 0.5, accuracy: 0.1)
            // Padded pixels hold (0 - mean) / std after normalising.
            XCTAssertTrue(candidates.keys.contains { $0.contains((0 - mean[0]) / std[0]) })
        }
    }

    func testDeterministicPerSeedAndEpoch() {
        let set = Self.copies(100)
        var loader = InMemoryBatchLoader(dataset: set, batchSize: 16, seed: 3, epoch: 5,
                                         augmentation: .cropAndFlip(padding: 1), prefetch: 0)
        let first = Array(loader)
        XCTAssertEqual(Array(loader), first)
        loader.prefetch = 2
        XCTAssertEqual(Array(loader), first, "prefetching changed the batches")
        XCTAssertEqual(Set(first.flatMap(\.indices)), Set(0..<100))
        XCTAssertNotEqual(first.flatMap(\.indices), Array(0..<100))

        // A fresh loader (a resumed run) reproduces the epoch, also from the middle.
        let resumed = InMemoryBatchLoader(dataset: set, batchSize: 16, seed: 3, epoch: 5,
                                          augmentation: .cropAndFlip(padding: 1))
        XCTAssertEqual(Array(IteratorSequence(resumed.makeIterator(startingAt: 4))), Array(first[4...]))
        XCTAssertEqual(resumed.batch(at: 6), first[6])

        loader.epoch = 6
        let next = Array(loader)
        XCTAssertNotEqual(next.flatMap(\.indices), first.flatMap(\.indices))
        XCTAssertEqual(Set(next.flatMap(\.indices)), Set(0..<100))
        loader.epoch = 5
        loader.seed = 4
        XCTAssertNotEqual(Array(loader).flatMap(\.indices), first.flatMap(\.indices))
    }

    func testOrderIsAPureFunctionOfSeedAndEpoch() {
        // Golden order: guards against silent changes to the shuffle or the generator.
        let loader = InMemoryBatchLoader(dataset: Self.copies(10), batchSize: 4, seed: 1, epoch: 2)
        let order = loader.order()
        XCTAssertEqual(order, InMemoryBatchLoader(dataset: Self.copies(10), batchSize: 4, seed: 1, epoch: 2).order())
        XCTAssertEqual(Set(order), Set(0..<10))
        XCTAssertEqual(order, Self.goldenOrder)
        // Golden augmentation: the pixel sum of an augmented batch.
        let augmented = InMemoryBatchLoader(dataset: Self.copies(10), batchSize: 10, seed: 1, epoch: 2, mean: [0],
                                            std: [1], augmentation: .cropAndFlip(padding: 1))
        let sum = augmented.batch(at: 0).images.reduce(0, +) * 255
        XCTAssertEqual(sum, Self.goldenAugmentedSum, accuracy: 0.01)
    }

    static let goldenAugmentedSum: Float = 9809

    static let goldenOrder = [5, 8, 9, 0, 7, 2, 4, 6, 1, 3]

    func testDropLast() {
        let set = Self.copies(10)
        let keep = InMemoryBatchLoader(dataset: set, batchSize: 4)
        let drop = InMemoryBatchLoader(dataset: set, batchSize: 4, dropLast: true)
        XCTAssertEqual(keep.batchCount, 3)
        XCTAssertEqual(drop.batchCount, 2)
        XCTAssertEqual(Array(drop).map(\.count), [4, 4])
        XCTAssertEqual(Array(keep).map(\.count), [4, 4, 2])
    }

    func testFashionMNISTEpochSpeed() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("Fashion-MNIST is not installed")
        }
        let train = try FashionMNIST.load(split: .train)
        let loader = InMemoryBatchLoader(dataset: train, batchSize: 256, seed: 1,
                                         augmentation: .cropAndFlip(padding: 2), prefetch: 1)
        let start = Date()
        var images = 0
        var checksum: Float = 0
        for batch in loader {
            images += batch.count
            checksum += batch.images[0]
        }
        let seconds = Date().timeIntervalSince(start)
        print("Fashion-MNIST epoch with crop+flip: \(images) images in \(seconds) s")
        XCTAssertEqual(images, 60000)
        XCTAssertTrue(checksum.isFinite)
        #if DEBUG
        XCTAssertLessThan(seconds, 20)
        #else
        XCTAssertLessThan(seconds, 1)
        #endif
    }
}
