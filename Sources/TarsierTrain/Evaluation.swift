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
    /// With test-time augmentation: the accuracy of the plain images' logits alone.
    public var accuracyWithoutAugmentation: Double?

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
                                mean: [Float], std: [Float],
                                augmentation: TestTimeAugmentation = .none) throws -> EvaluationResult {
        let loader = InMemoryBatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, mean: mean, std: std)
        return try evaluate(model, on: loader, augmentation: augmentation)
    }

    /// Evaluates `model` on every batch of epoch 0 of `provider` (files that cannot be loaded are
    /// left out, as the provider's bad-file policy says); restores the model's mode afterwards.
    /// - Parameter augmentation: Predict from the mean of the logits of each image's views
    ///   (test-time augmentation); unless it is `.none`, the result's
    ///   `accuracyWithoutAugmentation` holds the plain accuracy as well.
    public static func evaluate(_ model: Module, on provider: any BatchProvider,
                                augmentation: TestTimeAugmentation = .none) throws -> EvaluationResult {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let batches = provider.batches(epoch: 0)
        var predictions: [Int] = [], labels: [Int] = []
        var lossSum = 0.0, topFive = 0.0, plainCorrect = 0
        try Autograd.withNoGrad {
            while let batch = try batches.next() {
                var logits = try model(Tensor(shape: batch.shape, data: batch.images))
                if !augmentation.isNone {
                    plainCorrect += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
                    for view in augmentation.views.dropFirst() {
                        let images = augmentation.images(batch.images, shape: batch.shape, view: view)
                        logits = logits + (try model(Tensor(shape: batch.shape, data: images)))
                    }
                    logits = logits * (1 / Double(augmentation.views.count))
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
        if !augmentation.isNone { result.accuracyWithoutAugmentation = Double(plainCorrect) / n }
        return result
    }
}
