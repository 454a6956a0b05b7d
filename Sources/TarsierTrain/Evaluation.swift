import TarsierCore
import TarsierNN
import TarsierData
import TarsierEval

/// Predictions of a model on a whole dataset.
public struct EvaluationResult: Sendable {
    public var labels: [Int]
    public var predictions: [Int]
    /// Mean loss (cross-entropy without smoothing).
    public var loss: Double
    public var topFiveAccuracy: Double
    public var classNames: [String]
    /// Test files that could not be loaded and were left out.
    public var skippedFiles: [SkippedFile] = []
    /// With flip averaging: the accuracy of the unflipped images' logits alone.
    public var accuracyWithoutFlips: Double?

    /// Fraction of correct predictions.
    public var accuracy: Double {
        labels.isEmpty ? 0 : Double(zip(labels, predictions).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// The per-class precision/recall/F1 report.
    public var report: ClassificationReport {
        ClassificationReport(labels: labels, predictions: predictions, classNames: classNames)
    }

    /// The confusion matrix (rows: true labels, columns: predictions).
    public var confusionMatrix: ConfusionMatrix {
        ConfusionMatrix(classCount: classNames.count, labels: labels, predictions: predictions)
    }
}

/// Runs a model in evaluation mode, without recording gradients, over a dataset.
public enum Evaluator {
    /// Evaluates `model` on `dataset` normalised with `mean`/`std`; restores the model's mode afterwards.
    public static func evaluate(_ model: Module, on dataset: ImageClassificationSet, batchSize: Int = 1000,
                                mean: [Float], std: [Float], flipAveraging: Bool = false) throws -> EvaluationResult {
        let loader = InMemoryBatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, mean: mean, std: std)
        return try evaluate(model, on: loader, flipAveraging: flipAveraging)
    }

    /// Evaluates `model` on every batch of epoch 0 of `provider` (files that cannot be loaded are
    /// left out, as the provider's bad-file policy says); restores the model's mode afterwards.
    /// - Parameter flipAveraging: Predict from the mean of the logits of each image and its
    ///   horizontal mirror (test-time augmentation for models trained with random flips); the
    ///   result's `accuracyWithoutFlips` then holds the plain accuracy as well.
    public static func evaluate(_ model: Module, on provider: any BatchProvider,
                                flipAveraging: Bool = false) throws -> EvaluationResult {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let batches = provider.batches(epoch: 0)
        var predictions: [Int] = [], labels: [Int] = []
        var lossSum = 0.0, topFive = 0.0, plainCorrect = 0
        try Autograd.withNoGrad {
            while let batch = try batches.next() {
                var logits = try model(Tensor(shape: batch.shape, data: batch.images))
                if flipAveraging {
                    plainCorrect += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
                    let mirrored = try model(Tensor(shape: batch.shape, data: mirroredHorizontally(batch.images, shape: batch.shape)))
                    logits = (logits + mirrored) * 0.5
                }
                predictions += logits.argmax(axis: 1)
                labels += batch.labels
                lossSum += try Loss.crossEntropy(logits, labels: batch.labels, reduction: .sum).item()
                let classCount = logits.shape[1]
                if classCount >= 5 {
                    topFive += ScoreMetrics.topKAccuracy(scores: logits.toArray(), classCount: classCount,
                                                         labels: batch.labels, k: 5) * Double(batch.count)
                }
            }
        }
        let n = Double(max(labels.count, 1))
        var result = EvaluationResult(labels: labels, predictions: predictions, loss: lossSum / n,
                                      topFiveAccuracy: topFive / n, classNames: provider.classNames,
                                      skippedFiles: batches.skippedFiles)
        if flipAveraging { result.accuracyWithoutFlips = Double(plainCorrect) / n }
        return result
    }

    /// `images` (`[batch, channels, height, width]`, row-major) with every row reversed.
    public static func mirroredHorizontally(_ images: [Float], shape: [Int]) -> [Float] {
        guard let width = shape.last, width > 1 else { return images }
        var mirrored = images
        mirrored.withUnsafeMutableBufferPointer { out in
            images.withUnsafeBufferPointer { source in
                for rowStart in stride(from: 0, to: source.count, by: width) {
                    for x in 0..<width { out[rowStart + x] = source[rowStart + width - 1 - x] }
                }
            }
        }
        return mirrored
    }
}
