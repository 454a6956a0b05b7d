import Dispatch
import TarsierSupport

/// Random training-time augmentation applied by `InMemoryBatchLoader`.
public struct Augmentation: Sendable, Equatable {
    /// Zero padding on each side before a random crop back to the original size; 0 disables.
    public var cropPadding: Int
    /// Probability of mirroring an image left to right; 0 disables.
    public var horizontalFlipProbability: Float

    /// Creates an augmentation.
    public init(cropPadding: Int = 0, horizontalFlipProbability: Float = 0) {
        precondition(cropPadding >= 0, "cropPadding must not be negative")
        precondition((0...1).contains(horizontalFlipProbability), "flip probability must lie in [0, 1]")
        self.cropPadding = cropPadding
        self.horizontalFlipProbability = horizontalFlipProbability
    }

    /// No augmentation.
    public static let none = Augmentation()

    /// Random crop with `padding` pixels of zero padding, then a horizontal flip with p = 0.5
    /// (torchvision's `RandomCrop(size, padding)` followed by `RandomHorizontalFlip()`).
    public static func cropAndFlip(padding: Int = 2) -> Augmentation {
        Augmentation(cropPadding: padding, horizontalFlipProbability: 0.5)
    }
}

/// Batches of an in-memory image set: shuffled, augmented and normalised.
///
/// The order of epoch `e` and every augmentation draw are pure functions of `(seed, e)`, so a
/// resumed run reproduces them exactly, with or without prefetching. Pixels are scaled to
/// [0, 1] and normalised per channel as `(x - mean) / std`; padding is zero in raw pixel space.
public struct InMemoryBatchLoader: Sequence, Sendable {
    /// The images.
    public let dataset: ImageClassificationSet
    /// Images per batch.
    public var batchSize: Int
    /// Whether the order is a seeded permutation (otherwise dataset order).
    public var shuffle: Bool
    /// The seed of the order and the augmentation.
    public var seed: UInt64
    /// The epoch whose order and augmentation the iterator produces.
    public var epoch: Int
    /// Whether a final incomplete batch is dropped.
    public var dropLast: Bool
    /// Per-channel means (one value applies to all channels).
    public var mean: [Float]
    /// Per-channel standard deviations (one value applies to all channels).
    public var std: [Float]
    /// The random augmentation.
    public var augmentation: Augmentation
    /// How many batches a background thread prepares ahead; 0 prepares on the caller's thread.
    public var prefetch: Int

    /// Creates a loader.
    /// - Parameters:
    ///   - dataset: The images.
    ///   - batchSize: Images per batch (positive).
    ///   - shuffle: Whether to permute the order each epoch.
    ///   - seed: The seed of the order and the augmentation.
    ///   - epoch: The epoch to produce; change it between epochs.
    ///   - dropLast: Whether to drop a final incomplete batch.
    ///   - mean: Per-channel means of pixels in [0, 1]; defaults to Fashion-MNIST's.
    ///   - std: Per-channel standard deviations; defaults to Fashion-MNIST's.
    ///   - augmentation: Random crop and flip; `.none` for evaluation.
    ///   - prefetch: Batches prepared ahead on a background thread (0 to 2 are sensible).
    public init(dataset: ImageClassificationSet, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
                epoch: Int = 0, dropLast: Bool = false, mean: [Float] = [FashionMNIST.mean],
                std: [Float] = [FashionMNIST.std], augmentation: Augmentation = .none, prefetch: Int = 1) {
        precondition(batchSize > 0, "batchSize must be positive")
        precondition(prefetch >= 0, "prefetch must not be negative")
        precondition((mean.count == 1 || mean.count == dataset.channels)
                     && (std.count == 1 || std.count == dataset.channels),
                     "mean and std need 1 or \(dataset.channels) values")
        precondition(std.allSatisfy { $0 != 0 }, "std must not be zero")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.dropLast = dropLast
        self.mean = mean
        self.std = std
        self.augmentation = augmentation
        self.prefetch = prefetch
    }

    /// The number of batches per epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The dataset indices in the order of the current epoch.
    public func order() -> [Int] {
        var order = Array(0..<dataset.count)
        guard shuffle, order.count > 1 else { return order }
        var generator = SeededGenerator(seed: mixSeed(seed, UInt64(bitPattern: Int64(epoch)), 0x5348_5546))
        // Fisher-Yates, written out so the order never depends on the standard library's version.
        order.withUnsafeMutableBufferPointer { buffer in
            for i in stride(from: buffer.count - 1, to: 0, by: -1) {
                buffer.swapAt(i, generator.nextInt(below: i + 1))
            }
        }
        return order
    }

    /// Batch `index` of the current epoch, prepared on the calling thread.
    public func batch(at index: Int) -> Batch {
        precondition(index >= 0 && index < batchCount, "batch \(index) is outside 0..<\(batchCount)")
        return Plan(self).batch(index)
    }

    /// An iterator over the current epoch's batches.
    public func makeIterator() -> Iterator { Iterator(plan: Plan(self), start: 0) }

    /// An iterator over the current epoch's batches from `batchIndex` on, for resuming a run.
    public func makeIterator(startingAt batchIndex: Int) -> Iterator {
        precondition(batchIndex >= 0 && batchIndex <= batchCount, "batch \(batchIndex) is outside 0...\(batchCount)")
        return Iterator(plan: Plan(self), start: batchIndex)
    }

    /// Produces the batches of one epoch, prefetching in the background when asked to.
    public struct Iterator: IteratorProtocol {
        private let plan: Plan
        private var nextIndex: Int
        private var pending: [PendingBatch] = []

        fileprivate init(plan: Plan, start: Int) {
            self.plan = plan
            self.nextIndex = start
        }

        /// The next batch, or nil after the last.
        public mutating func next() -> Batch? {
            guard nextIndex < plan.batchCount else { return nil }
            defer { nextIndex += 1 }
            if plan.prefetch == 0 { return plan.batch(nextIndex) }
            // Keep the current batch and up to `prefetch` more in flight.
            let last = Swift.min(plan.batchCount - 1, nextIndex + plan.prefetch)
            var scheduled = nextIndex + pending.count
            while scheduled <= last {
                pending.append(PendingBatch(plan: plan, index: scheduled))
                scheduled += 1
            }
            return pending.removeFirst().wait()
        }
    }
}

/// A batch being prepared on a background thread.
private final class PendingBatch: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Batch?
    private let plan: Plan
    private let index: Int

    init(plan: Plan, index: Int) {
        self.plan = plan
        self.index = index
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            result = plan.batch(index)
            done.signal()
        }
    }

    func wait() -> Batch {
        done.wait()
        // The semaphore orders the write before this read; recompute only if it somehow is nil.
        return result ?? plan.batch(index)
    }
}

/// Everything one epoch needs, immutable and shared by the preparing threads.
private final class Plan: @unchecked Sendable {
    let dataset: ImageClassificationSet
    let order: [Int]
    let table: [Float]
    let batchSize: Int
    let batchCount: Int
    let prefetch: Int
    let padding: Int
    let flipProbability: Float
    let augmentSeed: UInt64

    init(_ loader: InMemoryBatchLoader) {
        dataset = loader.dataset
        order = loader.order()
        batchSize = loader.batchSize
        batchCount = loader.batchCount
        prefetch = loader.prefetch
        padding = loader.augmentation.cropPadding
        flipProbability = loader.augmentation.horizontalFlipProbability
        augmentSeed = mixSeed(loader.seed, UInt64(bitPattern: Int64(loader.epoch)), 0x4155_474D)
        // One 256-entry lookup table per channel: (v / 255 - mean) / std, in Float as torchvision.
        var table = [Float](repeating: 0, count: 256 * loader.dataset.channels)
        for c in 0..<loader.dataset.channels {
            let m = loader.mean.count == 1 ? loader.mean[0] : loader.mean[c]
            let s = loader.std.count == 1 ? loader.std[0] : loader.std[c]
            for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - m) / s }
        }
        self.table = table
    }

    func batch(_ index: Int) -> Batch {
        let start = index * batchSize
        let indices = Array(order[start..<min(start + batchSize, order.count)])
        let n = indices.count
        let c = dataset.channels, h = dataset.height, w = dataset.width
        let imageSize = c * h * w
        let pad = padding
        let images = [Float](unsafeUninitializedCapacity: n * imageSize) { out, initialized in
            dataset.images.withUnsafeBufferPointer { pixels in
                table.withUnsafeBufferPointer { lut in
                    for (b, sample) in indices.enumerated() {
                        var dy = pad, dx = pad, flip = false
                        if pad > 0 || flipProbability > 0 {
                            var generator = SeededGenerator(seed: mixSeed(augmentSeed, UInt64(sample), 0))
                            if pad > 0 {
                                dy = generator.nextInt(below: 2 * pad + 1)
                                dx = generator.nextInt(below: 2 * pad + 1)
                            }
                            if flipProbability > 0 { flip = generator.nextUnitFloat() < flipProbability }
                        }
                        // Output (y, x) reads input (y + dy - pad, x' + dx - pad), x' = flip ? w-1-x : x.
                        let shiftY = dy - pad, shiftX = dx - pad
                        let x0 = max(0, flip ? shiftX : -shiftX)
                        let x1 = min(w, flip ? w + shiftX : w - shiftX)
                        for ch in 0..<c {
                            let lutBase = ch * 256
                            let fill = lut[lutBase]
                            let inPlane = (sample * c + ch) * h * w
                            let outPlane = (b * c + ch) * h * w
                            for y in 0..<h {
                                let outRow = outPlane + y * w
                                let sy = y + shiftY
                                if sy < 0 || sy >= h || x0 >= x1 {
                                    for x in 0..<w { out.initializeElement(at: outRow + x, to: fill) }
                                    continue
                                }
                                let inRow = inPlane + sy * w
                                for x in 0..<x0 { out.initializeElement(at: outRow + x, to: fill) }
                                if flip {
                                    let base = inRow + w - 1 + shiftX
                                    for x in x0..<x1 {
                                        out.initializeElement(at: outRow + x, to: lut[lutBase + Int(pixels[base - x])])
                                    }
                                } else {
                                    let base = inRow + shiftX
                                    for x in x0..<x1 {
                                        out.initializeElement(at: outRow + x, to: lut[lutBase + Int(pixels[base + x])])
                                    }
                                }
                                for x in x1..<w { out.initializeElement(at: outRow + x, to: fill) }
                            }
                        }
                    }
                }
            }
            initialized = n * imageSize
        }
        return Batch(images: images, shape: [n, c, h, w], labels: indices.map { dataset.labels[$0] },
                     indices: indices)
    }
}

/// Hashes three words into a seed (SplitMix64 finaliser over a running mix).
func mixSeed(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
    func splitMix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return splitMix(splitMix(splitMix(a) ^ b) ^ c)
}
