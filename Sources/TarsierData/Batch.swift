/// A batch of normalised images with their labels.
public struct Batch: Sendable, Equatable {
    /// Normalised pixels, laid out N x C x H x W.
    public var images: [Float]
    /// `[N, C, H, W]`.
    public var shape: [Int]
    /// The class of each image.
    public var labels: [Int]
    /// The dataset index of each image.
    public var indices: [Int]

    /// Creates a batch.
    public init(images: [Float], shape: [Int], labels: [Int], indices: [Int]) {
        self.images = images
        self.shape = shape
        self.labels = labels
        self.indices = indices
    }

    /// The number of images.
    public var count: Int { labels.count }
}

/// A file that could not be loaded and was left out of its batch.
public struct SkippedFile: Sendable, Equatable, Codable {
    /// The file's path.
    public var path: String
    /// Why it was skipped.
    public var reason: String

    /// Creates a record.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// The batches of one epoch, produced in order; image files may fail to load, so `next` throws.
public protocol BatchStream: AnyObject {
    /// The next batch, or nil after the last.
    func next() throws -> Batch?
    /// Files left out so far this epoch (always empty for in-memory data).
    var skippedFiles: [SkippedFile] { get }
}

/// Where a trainer or evaluator gets its batches: an in-memory set or a folder of image files.
public protocol BatchProvider {
    /// Human-readable class names, indexed by label.
    var classNames: [String] { get }
    /// Images in the dataset.
    var sampleCount: Int { get }
    /// Batches per epoch.
    var batchCount: Int { get }
    /// The batches of epoch `epoch` (its order and augmentation depend only on the seed and `epoch`).
    func batches(epoch: Int) -> BatchStream
}

extension InMemoryBatchLoader: BatchProvider {
    /// The dataset's class names.
    public var classNames: [String] { dataset.classNames }
    /// The dataset's image count.
    public var sampleCount: Int { dataset.count }

    /// The batches of `epoch`, prefetched as configured.
    public func batches(epoch: Int) -> BatchStream {
        var loader = self
        loader.epoch = epoch
        return InMemoryBatchStream(loader.makeIterator())
    }
}

/// Adapts the in-memory iterator (which cannot fail) to `BatchStream`.
private final class InMemoryBatchStream: BatchStream {
    private var iterator: InMemoryBatchLoader.Iterator

    init(_ iterator: InMemoryBatchLoader.Iterator) { self.iterator = iterator }

    func next() throws -> Batch? { iterator.next() }

    var skippedFiles: [SkippedFile] { [] }
}

extension BatchStream {
    /// Every batch not yet taken, in order (for small datasets, tools and tests).
    public func remainingBatches() throws -> [Batch] {
        var batches: [Batch] = []
        while let batch = try next() { batches.append(batch) }
        return batches
    }
}
