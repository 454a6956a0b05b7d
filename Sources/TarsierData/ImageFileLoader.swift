import Foundation
import TarsierImage
import TarsierSupport

/// Batches of image files, decoded and transformed by a pool of threads.
///
/// The order of epoch `e` and the random draws of every image's transforms are pure functions
/// of `(seed, e, image index)`, so the batches are the same whatever the thread count, and a
/// resumed run sees the same data. Workers run at most `prefetch` batches ahead of the consumer.
public struct ImageFileLoader: BatchProvider, Sendable {
    /// The labelled files.
    public let dataset: ImageFileDataset
    /// Decoded image to C x H x W floats (augmentation, ToTensor, normalisation).
    public var transforms: TransformPipeline
    /// Images per batch.
    public var batchSize: Int
    /// Whether the order is a seeded permutation (otherwise dataset order).
    public var shuffle: Bool
    /// The seed of the order and of the transforms' random draws.
    public var seed: UInt64
    /// Whether a final incomplete batch is dropped.
    public var dropLast: Bool
    /// Decoding threads; 0 decodes on the caller's thread.
    public var workers: Int
    /// Batches prepared ahead of the one being consumed.
    public var prefetch: Int
    /// The pixel format images are converted to after decoding (nil keeps each file's own).
    public var pixelFormat: PixelFormat?
    /// Size limits checked before decoding.
    public var limits: DecodeLimits
    /// What happens to a file that cannot be loaded.
    public var badFiles: BadFilePolicy
    /// Whether a JPEG may be decoded at reduced size (k/8), and only around the crop, when the
    /// pipeline's first transform shrinks it anyway (RandomResizedCrop, Resize): the random draws
    /// stay those of the full-size path, the pixels differ slightly, decoding costs less. See
    /// `TransformPipeline.transformImage(encoded:name:as:limits:reducedDecoding:using:)`.
    public var reducedDecoding: Bool

    /// Creates a loader.
    /// - Parameters:
    ///   - dataset: The files.
    ///   - transforms: What turns a decoded image into planar floats; every image must come out the same size.
    ///   - batchSize: Images per batch (positive).
    ///   - shuffle: Whether to permute the order each epoch.
    ///   - seed: The seed of the order and the augmentation.
    ///   - dropLast: Whether to drop a final incomplete batch.
    ///   - workers: Decoding threads (0 decodes on the caller's thread).
    ///   - prefetch: Batches prepared ahead (at least 1 when `workers` > 0).
    ///   - pixelFormat: Conversion after decoding; `.rgb` as torchvision's default loader.
    ///   - limits: Size limits checked before decoding.
    ///   - badFiles: Skip (up to 1% by default) or fail on unreadable files.
    ///   - reducedDecoding: Decode JPEGs at reduced size where the first transform allows it.
    public init(dataset: ImageFileDataset, transforms: TransformPipeline, batchSize: Int, shuffle: Bool = true,
                seed: UInt64 = 0, dropLast: Bool = false, workers: Int = 2, prefetch: Int = 2,
                pixelFormat: PixelFormat? = .rgb, limits: DecodeLimits = .standard,
                badFiles: BadFilePolicy = .skipUpToOnePercent, reducedDecoding: Bool = true) {
        precondition(batchSize > 0, "batchSize must be positive")
        precondition(workers >= 0 && prefetch >= 0, "workers and prefetch must not be negative")
        self.dataset = dataset
        self.transforms = transforms
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.workers = workers
        self.prefetch = max(prefetch, workers > 0 ? 1 : 0)
        self.pixelFormat = pixelFormat
        self.limits = limits
        self.badFiles = badFiles
        self.reducedDecoding = reducedDecoding
    }

    /// The dataset's class names.
    public var classNames: [String] { dataset.classNames }
    /// The number of files.
    public var sampleCount: Int { dataset.count }

    /// The number of batches per epoch (before any files are skipped).
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The dataset indices in the order of epoch `epoch`.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<dataset.count)
        guard shuffle, order.count > 1 else { return order }
        var generator = SeededGenerator(seed: mixSeed(seed, UInt64(bitPattern: Int64(epoch)), 0x5348_5546))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.nextInt(below: i + 1))
        }
        return order
    }

    /// Decodes and transforms image `index` with the random draws it gets in epoch `epoch`.
    public func load(index: Int, epoch: Int) throws -> PlanarImage {
        var buffer: [UInt8] = []
        return try load(index: index, epoch: epoch, buffer: &buffer)
    }

    /// `load(index:epoch:)` reading the file into `buffer`, which a worker keeps between files.
    func load(index: Int, epoch: Int, buffer: inout [UInt8]) throws -> PlanarImage {
        let path = dataset.samples[index].path
        let count = try ImageCodec.readFile(path, into: &buffer)
        let sampleSeed = mixSeed(mixSeed(seed, UInt64(bitPattern: Int64(epoch)), 0x4155_474D), UInt64(index), 0)
        return try buffer.withUnsafeBufferPointer { bytes in
            try transforms.apply(encoded: UnsafeBufferPointer(rebasing: bytes[..<count]), name: path, as: pixelFormat,
                                 limits: limits, reducedDecoding: reducedDecoding, seed: sampleSeed)
        }
    }

    /// The batches of `epoch`.
    public func batches(epoch: Int) -> BatchStream {
        ImageFileBatchStream(loader: self, epoch: epoch)
    }
}

/// One epoch of an `ImageFileLoader`: worker threads fill per-position results in order, and
/// `next` assembles each batch once all its positions are done.
final class ImageFileBatchStream: BatchStream {
    private let epoch: EpochWork
    private var nextBatch = 0
    private var skippedSoFar = 0
    private(set) var skippedFiles: [SkippedFile] = []

    init(loader: ImageFileLoader, epoch: Int) {
        self.epoch = EpochWork(loader: loader, epoch: epoch)
        for _ in 0..<loader.workers {
            let work = self.epoch
            let thread = Thread { work.runWorker() }
            thread.name = "tarsier-decode"
            thread.start()
        }
    }

    deinit { epoch.cancel() }

    func next() throws -> Batch? {
        let loader = epoch.loader
        while nextBatch < epoch.batchCount {
            let batchIndex = nextBatch
            nextBatch += 1
            let positions = (batchIndex * loader.batchSize)..<min((batchIndex + 1) * loader.batchSize, epoch.order.count)
            let results = epoch.take(positions, batchIndex: batchIndex)
            var images: [PlanarImage] = [], labels: [Int] = [], indices: [Int] = []
            for (position, result) in zip(positions, results) {
                let index = epoch.order[position]
                let sample = loader.dataset.samples[index]
                switch result {
                case .success(let image):
                    if let first = images.first, first.shape != image.shape {
                        throw DatasetError(kind: .inconsistent, file: sample.path,
                                           detail: "becomes \(shapeText(image.shape)) after the transforms but other images "
                                               + "in the batch are \(shapeText(first.shape)); add a Resize and a CenterCrop "
                                               + "(or a RandomResizedCrop) so every image has one size")
                    }
                    images.append(image)
                    labels.append(sample.label)
                    indices.append(index)
                case .failure(let error):
                    if loader.badFiles == .fail { throw error }
                    skippedSoFar += 1
                    skippedFiles.append(SkippedFile(path: sample.path, reason: "\(error)"))
                    let allowed = loader.badFiles.allowedFailures(of: loader.dataset.count)
                    if skippedSoFar > allowed {
                        let listed = skippedFiles.prefix(5).map { "  \($0.path): \($0.reason)" }.joined(separator: "\n")
                        throw DatasetError(kind: .tooManyBadFiles, file: loader.dataset.source,
                                           detail: "\(skippedSoFar) files of '\(loader.dataset.source)' could not be loaded "
                                               + "this epoch, more than the \(allowed) the bad-file policy allows:\n\(listed)")
                    }
                }
            }
            guard let first = images.first else { continue }
            let size = first.values.count
            var values = [Float]()
            values.reserveCapacity(size * images.count)
            for image in images { values.append(contentsOf: image.values) }
            return Batch(images: values, shape: [images.count] + first.shape, labels: labels, indices: indices)
        }
        return nil
    }
}

private func shapeText(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "x") }

/// The shared state of one epoch's workers, guarded by `condition`.
final class EpochWork: @unchecked Sendable {
    let loader: ImageFileLoader
    let epochNumber: Int
    let order: [Int]
    let batchCount: Int
    private let condition = NSCondition()
    private var nextPosition = 0
    private var consumedBatches = 0
    private var results: [Int: Result<PlanarImage, Error>] = [:]
    private var cancelled = false

    init(loader: ImageFileLoader, epoch: Int) {
        self.loader = loader
        self.epochNumber = epoch
        self.batchCount = loader.batchCount
        // Positions past the last batch are never loaded (dropLast).
        self.order = Array(loader.order(epoch: epoch).prefix(min(loader.dataset.count, batchCount * loader.batchSize)))
    }

    /// Loads one position; failures are values so the consumer applies the bad-file policy.
    private func load(_ position: Int, buffer: inout [UInt8]) -> Result<PlanarImage, Error> {
        Result { try loader.load(index: order[position], epoch: epochNumber, buffer: &buffer) }
    }

    /// A worker: claims positions in order, never more than `prefetch` batches past the consumer.
    func runWorker() {
        var buffer: [UInt8] = []  // the file bytes, reused for every file this worker reads
        condition.lock()
        while !cancelled && nextPosition < order.count {
            let limit = min(order.count, (consumedBatches + 1 + loader.prefetch) * loader.batchSize)
            if nextPosition >= limit {
                condition.wait()
                continue
            }
            let position = nextPosition
            nextPosition += 1
            condition.unlock()
            let result = load(position, buffer: &buffer)
            condition.lock()
            results[position] = result
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Waits for (or, without workers, computes) the results of `positions` and lets workers move on.
    func take(_ positions: Range<Int>, batchIndex: Int) -> [Result<PlanarImage, Error>] {
        if loader.workers == 0 {
            var buffer: [UInt8] = []
            return positions.map { load($0, buffer: &buffer) }
        }
        condition.lock()
        defer { condition.unlock() }
        while !positions.allSatisfy({ results[$0] != nil }) { condition.wait() }
        let taken = positions.map { results.removeValue(forKey: $0) ?? .failure(CancellationError()) }
        consumedBatches = batchIndex + 1
        condition.broadcast()
        return taken
    }

    /// Stops the workers after their current image.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
