import TarsierData

/// What a trainer learns from and is evaluated on: batch providers for both parts, the shape of
/// one input image, and the normalisation the batches were made with (saved in checkpoints).
public struct TrainingData {
    /// Training batches (shuffled and augmented).
    public var train: any BatchProvider
    /// Evaluation batches (fixed order, no augmentation).
    public var test: any BatchProvider
    /// `[channels, height, width]` of one input image.
    public var inputShape: [Int]
    /// Per-channel means the pixels in [0, 1] were normalised with.
    public var mean: [Float]
    /// Per-channel standard deviations of that normalisation.
    public var std: [Float]

    /// Creates training data; both parts must have the same classes.
    public init(train: any BatchProvider, test: any BatchProvider, inputShape: [Int], mean: [Float], std: [Float]) {
        precondition(inputShape.count == 3, "inputShape is [channels, height, width]")
        self.train = train
        self.test = test
        self.inputShape = inputShape
        self.mean = mean
        self.std = std
    }

    /// The class names, indexed by label.
    public var classNames: [String] { train.classNames }

    /// In-memory sets (Fashion-MNIST, CIFAR) with the options' batch size and augmentation
    /// (random crop with `cropPadding`, horizontal flip), one batch prefetched.
    public static func inMemory(train: ImageClassificationSet, test: ImageClassificationSet, options: TrainingOptions,
                                mean: [Float], std: [Float]) -> TrainingData {
        let augmentation = Augmentation(cropPadding: options.cropPadding,
                                        horizontalFlipProbability: options.horizontalFlip ? 0.5 : 0)
        let trainLoader = InMemoryBatchLoader(dataset: train, batchSize: options.batchSize, shuffle: true,
                                              seed: options.seed, dropLast: true, mean: mean, std: std,
                                              augmentation: augmentation, prefetch: 1)
        let testLoader = InMemoryBatchLoader(dataset: test, batchSize: options.evaluationBatchSize, shuffle: false,
                                             mean: mean, std: std, prefetch: 1)
        return TrainingData(train: trainLoader, test: testLoader, inputShape: [train.channels, train.height, train.width],
                            mean: mean, std: std)
    }
}
