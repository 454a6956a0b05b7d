import Foundation
import TarsierData
import TarsierImage
import TarsierSupport

/// How to train on a folder of images (or a CSV/TSV list); saved with the run's options so a
/// resumed run reads the data the same way.
public struct FolderDataOptions: Codable, Sendable, Equatable {
    /// An ImageFolder root (with `train/` and `val/` or `test/` inside, or the classes directly),
    /// or a `.csv`/`.tsv` list of `path,label`.
    public var root: String
    /// Side of the square network input; nil picks the images' own size when they are small
    /// (64 pixels or less), else 224.
    public var imageSize: Int?
    /// 1 (grey) or 3 (RGB); nil picks grey when the first image is grey.
    public var channels: Int?
    /// Part of each class held out for validation when there is no `val/` or `test/` folder.
    public var validationFraction = 0.1
    /// "auto", "crop-flip" (random crop with padding and a flip, for small images),
    /// "resized-crop-flip" (RandomResizedCrop and a flip, ImageNet style), "trivial" (resized crop,
    /// flip and TrivialAugmentWide) or "none"; auto is crop-flip up to 64 pixels, else resized-crop-flip.
    public var augmentation = "auto"
    /// "dataset" (mean and std measured on up to 500 training images) or "imagenet".
    public var normalization = "dataset"
    /// A fixed normalisation (for example a pretrained model's) that overrides `normalization`.
    public var mean: [Float]?, std: [Float]?
    /// Decoding threads.
    public var workers = 2
    /// "skip" (up to `maxBadFraction` of the files per epoch) or "fail".
    public var badFiles = "skip"
    /// The most files per epoch that may fail to load under "skip" (one is always allowed).
    public var maxBadFraction = 0.01

    /// Options for `root` with the defaults.
    public init(root: String) { self.root = root }
}

/// The choices `FolderData.make` settled on, for messages and checkpoints.
public struct FolderDataDescription: Sendable {
    /// Where the training and validation files came from.
    public var trainSource: String, validationSource: String
    /// File counts.
    public var trainCount: Int, validationCount: Int
    /// The number of classes.
    public var classCount: Int
    /// `[channels, size, size]`.
    public var inputShape: [Int]
    /// The augmentation used for training.
    public var augmentation: String
    /// Whether the images were decoded once into memory (small images) rather than every epoch.
    public var inMemory: Bool
    /// Files that could not be loaded while decoding into memory (streamed data reports its own per epoch).
    public var skippedFiles: [SkippedFile]
}

/// Builds `TrainingData` from image files: finds the train/validation parts, picks sizes,
/// augmentation and normalisation, and sets up parallel loaders.
public enum FolderData {
    /// ImageNet's channel means (RGB) and standard deviations.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// Finds the training and validation files under `root`: `train/` with `val/`, `valid/`,
    /// `validation/` or `test/`; or a CSV/TSV list; or one ImageFolder split by a seeded, per-class
    /// `validationFraction`.
    public static func locate(_ options: FolderDataOptions, seed: UInt64) throws -> (train: ImageFileDataset,
                                                                                    validation: ImageFileDataset) {
        let fm = FileManager.default
        let lower = options.root.lowercased()
        if lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") || lower.hasSuffix(".txt") {
            return try LabelledFileList.load(path: options.root)
                .split(validationFraction: options.validationFraction, seed: seed)
        }
        let trainRoot = (options.root as NSString).appendingPathComponent("train")
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: trainRoot, isDirectory: &isDirectory), isDirectory.boolValue {
            for name in ["val", "valid", "validation", "test"] {
                let path = (options.root as NSString).appendingPathComponent(name)
                if fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    let train = try ImageFolder.load(root: trainRoot)
                    let validation = try ImageFolder.load(root: path)
                    guard train.classNames == validation.classNames else {
                        throw DatasetError(kind: .inconsistent, file: path,
                                           detail: "its classes \(validation.classNames) differ from those of "
                                               + "\(trainRoot) \(train.classNames)")
                    }
                    return (train, validation)
                }
            }
            return try ImageFolder.load(root: trainRoot).split(validationFraction: options.validationFraction, seed: seed)
        }
        return try ImageFolder.load(root: options.root).split(validationFraction: options.validationFraction, seed: seed)
    }

    /// Training and validation loaders for `options`, batched as `training` says.
    public static func make(_ options: FolderDataOptions, training: TrainingOptions) throws
        -> (data: TrainingData, description: FolderDataDescription) {
        let (trainSet, validationSet) = try locate(options, seed: training.seed)
        guard let first = trainSet.samples.first else {
            throw DatasetError(kind: .notFound, file: options.root, detail: "no training images in '\(options.root)'")
        }
        guard validationSet.count > 0 else {
            throw DatasetError(kind: .notFound, file: options.root,
                               detail: "no validation images; add a val/ folder or use more images per class")
        }
        // The first image decides the defaults; a bad first file is an error the user should see.
        let probe = try ImageCodec.decode(contentsOf: first.path)
        let channels = options.channels ?? (probe.format == .gray || probe.format == .grayAlpha ? 1 : 3)
        guard channels == 1 || channels == 3 else {
            throw TrainingError.invalidOption("channels must be 1 or 3, got \(channels)")
        }
        let small = max(probe.width, probe.height) <= 64
        let size = options.imageSize ?? (small ? min(probe.width, probe.height) : 224)
        guard size >= 8 else { throw TrainingError.invalidOption("image size must be at least 8, got \(size)") }
        let augmentation = options.augmentation == "auto" ? (size <= 64 ? "crop-flip" : "resized-crop-flip")
            : options.augmentation
        let evaluationSteps = try evaluationTransforms(size: size)
        let trainSteps = try trainingTransforms(augmentation, size: size)
        let format: PixelFormat = channels == 1 ? .gray : .rgb
        let policy: BadFilePolicy
        switch options.badFiles {
        case "skip": policy = .skip(maxFraction: options.maxBadFraction)
        case "fail": policy = .fail
        default: throw TrainingError.invalidOption("unknown bad-file policy '\(options.badFiles)'; valid: skip, fail")
        }
        guard ["imagenet", "dataset"].contains(options.normalization) else {
            throw TrainingError.invalidOption("unknown normalization '\(options.normalization)'; valid: dataset, imagenet")
        }
        let shape = [channels, size, size]
        // Small images with crop/flip augmentation are decoded once: the in-memory loader does the
        // same padding crop and flip, and no decoding threads compete with the training threads.
        if size <= 64 && (augmentation == "crop-flip" || augmentation == "none") {
            let pipeline = TransformPipeline(evaluationSteps)
            let (trainImages, trainSkipped) = try decodeIntoMemory(trainSet, pipeline: pipeline, format: format,
                                                                   workers: options.workers, policy: policy)
            let (validationImages, validationSkipped) = try decodeIntoMemory(validationSet, pipeline: pipeline, format: format,
                                                                             workers: options.workers, policy: policy)
            let (mean, std) = try fixedStatistics(options, channels: channels)
                ?? (options.normalization == "imagenet" ? imageNetStatistics(channels: channels) : byteStatistics(trainImages))
            let augment = augmentation == "crop-flip" ? Augmentation(cropPadding: max(1, size / 14), horizontalFlipProbability: 0.5)
                : Augmentation.none
            let train = InMemoryBatchLoader(dataset: trainImages, batchSize: training.batchSize, shuffle: true,
                                            seed: training.seed, dropLast: true, mean: mean, std: std,
                                            augmentation: augment, prefetch: 1)
            let validation = InMemoryBatchLoader(dataset: validationImages, batchSize: training.evaluationBatchSize,
                                                 shuffle: false, mean: mean, std: std, prefetch: 1)
            return (TrainingData(train: train, test: validation, inputShape: shape, mean: mean, std: std),
                    FolderDataDescription(trainSource: trainSet.source, validationSource: validationSet.source,
                                          trainCount: trainImages.count, validationCount: validationImages.count,
                                          classCount: trainSet.classNames.count,
                                          inputShape: shape, augmentation: augmentation, inMemory: true,
                                          skippedFiles: trainSkipped + validationSkipped))
        }
        let mean: [Float], std: [Float]
        if let fixed = try fixedStatistics(options, channels: channels) {
            (mean, std) = fixed
        } else if options.normalization == "imagenet" {
            (mean, std) = imageNetStatistics(channels: channels)
        } else {
            (mean, std) = try channelStatistics(trainSet, transforms: evaluationSteps, format: format,
                                                workers: options.workers, seed: training.seed)
        }
        let normalize = try Normalize(mean: mean.map(Double.init), std: std.map(Double.init))
        let train = ImageFileLoader(dataset: trainSet, transforms: TransformPipeline(trainSteps, planar: [normalize]),
                                    batchSize: training.batchSize, shuffle: true, seed: training.seed, dropLast: true,
                                    workers: options.workers, prefetch: 2, pixelFormat: format, badFiles: policy)
        let validation = ImageFileLoader(dataset: validationSet,
                                         transforms: TransformPipeline(evaluationSteps, planar: [normalize]),
                                         batchSize: min(training.evaluationBatchSize, 256), shuffle: false,
                                         workers: options.workers, prefetch: 2, pixelFormat: format, badFiles: policy)
        let data = TrainingData(train: train, test: validation, inputShape: shape, mean: mean, std: std)
        let description = FolderDataDescription(trainSource: trainSet.source, validationSource: validationSet.source,
                                                trainCount: trainSet.count, validationCount: validationSet.count,
                                                classCount: trainSet.classNames.count,
                                                inputShape: shape, augmentation: augmentation, inMemory: false,
                                                skippedFiles: [])
        return (data, description)
    }

    /// The options' own mean and std, checked against the channel count, or nil.
    static func fixedStatistics(_ options: FolderDataOptions, channels: Int) throws -> (mean: [Float], std: [Float])? {
        guard let mean = options.mean, let std = options.std else { return nil }
        guard [1, channels].contains(mean.count), [1, channels].contains(std.count), std.allSatisfy({ $0 > 0 }) else {
            throw TrainingError.invalidOption("normalization needs 1 or \(channels) means and positive stds, got \(mean) and \(std)")
        }
        return (mean, std)
    }

    static func imageNetStatistics(channels: Int) -> (mean: [Float], std: [Float]) {
        channels == 3 ? (imageNetMean, imageNetStd) : ([0.449], [0.226])
    }

    /// Decodes every file once (resized and cropped to one size) into an in-memory set of bytes.
    static func decodeIntoMemory(_ dataset: ImageFileDataset, pipeline: TransformPipeline, format: PixelFormat,
                                 workers: Int, policy: BadFilePolicy) throws -> (ImageClassificationSet, [SkippedFile]) {
        let loader = ImageFileLoader(dataset: dataset, transforms: pipeline, batchSize: 512, shuffle: false,
                                     workers: workers, prefetch: 2, pixelFormat: format, badFiles: policy)
        let batches = loader.batches(epoch: 0)
        var bytes: [UInt8] = [], labels: [Int] = []
        var shape: [Int] = []
        while let batch = try batches.next() {
            shape = Array(batch.shape.dropFirst())
            // ToTensor divided 8-bit samples by 255; multiplying back and rounding restores them exactly.
            bytes += batch.images.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
            labels += batch.labels
        }
        guard shape.count == 3, !labels.isEmpty else {
            throw DatasetError(kind: .notFound, file: dataset.source, detail: "no image in '\(dataset.source)' could be loaded")
        }
        let set = ImageClassificationSet(images: bytes, labels: labels, channels: shape[0], height: shape[1], width: shape[2],
                                         classNames: dataset.classNames)
        return (set, batches.skippedFiles)
    }

    /// Per-channel mean and standard deviation of an in-memory set's pixels scaled to [0, 1].
    static func byteStatistics(_ set: ImageClassificationSet) -> (mean: [Float], std: [Float]) {
        let plane = set.height * set.width
        var histogram = [[Int]](repeating: [Int](repeating: 0, count: 256), count: set.channels)
        set.images.withUnsafeBufferPointer { pixels in
            for n in 0..<set.count {
                for c in 0..<set.channels {
                    let base = (n * set.channels + c) * plane
                    for i in base..<(base + plane) { histogram[c][Int(pixels[i])] += 1 }
                }
            }
        }
        var mean: [Float] = [], std: [Float] = []
        for counts in histogram {
            let total = Double(counts.reduce(0, +))
            var sum = 0.0, squares = 0.0
            for (value, count) in counts.enumerated() {
                let v = Double(value) / 255
                sum += v * Double(count)
                squares += v * v * Double(count)
            }
            let m = sum / max(total, 1)
            mean.append(Float(m))
            std.append(Float(max((squares / max(total, 1) - m * m).squareRoot(), 1e-3)))
        }
        return (mean, std)
    }

    /// Resize the shorter side (to size / 0.875 for large images, as ImageNet evaluation) and crop the centre.
    public static func evaluationTransforms(size: Int) throws -> [any ImageTransform] {
        let resized = size <= 64 ? size : Int((Double(size) / 0.875).rounded())
        return [try Resize(resized), try CenterCrop(size)]
    }

    /// The training steps for an augmentation name.
    public static func trainingTransforms(_ name: String, size: Int) throws -> [any ImageTransform] {
        switch name {
        case "none":
            return try evaluationTransforms(size: size)
        case "crop-flip":
            return try evaluationTransforms(size: size)
                + [try RandomCrop(size, padding: max(1, size / 14)), try RandomHorizontalFlip(p: 0.5)]
        case "resized-crop-flip":
            return [try RandomResizedCrop(size), try RandomHorizontalFlip(p: 0.5)]
        case "trivial":
            return [try RandomResizedCrop(size), try RandomHorizontalFlip(p: 0.5), try TrivialAugmentWide()]
        default:
            throw TrainingError.invalidOption("unknown augmentation '\(name)'; valid: auto, crop-flip, "
                                              + "resized-crop-flip, trivial, none")
        }
    }

    /// Per-channel mean and standard deviation of pixels in [0, 1] over up to 500 training images
    /// (a seeded choice), after the evaluation resize and crop.
    static func channelStatistics(_ dataset: ImageFileDataset, transforms: [any ImageTransform], format: PixelFormat,
                                  workers: Int, seed: UInt64) throws -> (mean: [Float], std: [Float]) {
        var indices = Array(0..<dataset.count)
        var generator = SeededGenerator(seed: seed ^ 0x5354_4154)
        for i in stride(from: indices.count - 1, to: 0, by: -1) { indices.swapAt(i, generator.nextInt(below: i + 1)) }
        let subset = dataset.subset(Array(indices.prefix(500)))
        let loader = ImageFileLoader(dataset: subset, transforms: TransformPipeline(transforms), batchSize: 100,
                                     shuffle: false, workers: workers, pixelFormat: format)
        let batches = loader.batches(epoch: 0)
        var sums: [Double] = [], squares: [Double] = [], counts: [Double] = []
        while let batch = try batches.next() {
            let channels = batch.shape[1], plane = batch.shape[2] * batch.shape[3]
            if sums.isEmpty {
                sums = [Double](repeating: 0, count: channels)
                squares = sums
                counts = sums
            }
            for n in 0..<batch.count {
                for c in 0..<channels {
                    let base = (n * channels + c) * plane
                    var s = 0.0, q = 0.0
                    for i in base..<(base + plane) {
                        let v = Double(batch.images[i])
                        s += v
                        q += v * v
                    }
                    sums[c] += s
                    squares[c] += q
                    counts[c] += Double(plane)
                }
            }
        }
        guard !sums.isEmpty else {
            throw DatasetError(kind: .notFound, file: dataset.source, detail: "no training image could be loaded")
        }
        let mean = zip(sums, counts).map { $0 / $1 }
        let std = (0..<mean.count).map { c in max((squares[c] / counts[c] - mean[c] * mean[c]).squareRoot(), 1e-3) }
        return (mean.map(Float.init), std.map(Float.init))
    }
}

extension FolderData {
    /// The files to evaluate at `path`: a CSV/TSV list, or a folder's `val/`, `valid/`, `validation/`
    /// or `test/` subfolder when it has one, else the ImageFolder itself.
    public static func evaluationFiles(_ path: String) throws -> ImageFileDataset {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") || lower.hasSuffix(".txt") {
            return try LabelledFileList.load(path: path)
        }
        var isDirectory: ObjCBool = false
        for name in ["val", "valid", "validation", "test"] {
            let candidate = (path as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                return try ImageFolder.load(root: candidate)
            }
        }
        return try ImageFolder.load(root: path)
    }

    /// A loader that prepares `dataset` as evaluation does for a model trained on `inputShape`
    /// (`[C, size, size]`) with `mean`/`std`: resize, centre crop, normalise, in file order.
    public static func evaluationLoader(_ dataset: ImageFileDataset, inputShape: [Int], mean: [Float], std: [Float],
                                        workers: Int = 2, badFiles: BadFilePolicy = .skipUpToOnePercent) throws
        -> ImageFileLoader {
        let normalize = try Normalize(mean: mean.map(Double.init), std: std.map(Double.init))
        return ImageFileLoader(dataset: dataset,
                               transforms: TransformPipeline(try evaluationTransforms(size: inputShape[1]), planar: [normalize]),
                               batchSize: 64, shuffle: false, workers: workers,
                               pixelFormat: inputShape[0] == 1 ? .gray : .rgb, badFiles: badFiles)
    }
}
