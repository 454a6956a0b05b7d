import TarsierData
import TarsierEval

/// What happened in one training step.
public struct BatchEvent: Sendable {
    public var epoch: Int
    /// Step within the epoch (0-based) and steps per epoch.
    public var step: Int, stepsPerEpoch: Int
    public var loss: Double
    /// Running accuracy of the epoch's training batches so far.
    public var runningAccuracy: Double
    /// Images seen this epoch.
    public var imagesSeen: Int
    public var learningRate: Double
}

/// Figures of one finished epoch.
public struct EpochSummary: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double
    public var testAccuracy: Double
    /// With test-time augmentation, the accuracy without it.
    public var testAccuracyWithoutAugmentation: Double?
    public var testTopFiveAccuracy: Double
    public var learningRate: Double
    /// Training seconds of this epoch and in total (evaluation excluded).
    public var epochSeconds: Double
    public var trainingSeconds: Double
    public var imagesPerSecond: Double
}

/// Receives training events: progress display, logs, checkpoints and reports are callbacks.
public protocol TrainingCallback: AnyObject {
    func epochWillStart(epoch: Int, of epochCount: Int, steps: Int)
    func batchDidEnd(_ event: BatchEvent)
    func epochDidEnd(_ summary: EpochSummary, trainer: Trainer, evaluation: EvaluationResult) throws
    func trainingDidEnd(_ result: TrainingResult, trainer: Trainer) throws
    /// Image files that could not be loaded this epoch and were left out (bad-file policy "skip").
    func filesSkipped(_ files: [SkippedFile], epoch: Int) throws
}

extension TrainingCallback {
    public func epochWillStart(epoch: Int, of epochCount: Int, steps: Int) {}
    public func batchDidEnd(_ event: BatchEvent) {}
    public func epochDidEnd(_ summary: EpochSummary, trainer: Trainer, evaluation: EvaluationResult) throws {}
    public func trainingDidEnd(_ result: TrainingResult, trainer: Trainer) throws {}
    public func filesSkipped(_ files: [SkippedFile], epoch: Int) throws {}
}

/// Shows a progress bar per epoch and a line of figures after it.
public final class ProgressCallback: TrainingCallback {
    private var bar: ProgressBar?
    private let print: (String) -> Void

    /// Creates the display; `print` receives the end-of-epoch lines.
    public init(print: @escaping (String) -> Void = { Swift.print($0) }) { self.print = print }

    public func epochWillStart(epoch: Int, of epochCount: Int, steps: Int) {
        bar = ProgressBar(totalSteps: steps, epoch: epoch + 1, epochCount: epochCount)
    }

    public func batchDidEnd(_ event: BatchEvent) {
        bar?.update(step: event.step + 1, images: event.imagesSeen, loss: event.loss, accuracy: event.runningAccuracy)
    }

    public func filesSkipped(_ files: [SkippedFile], epoch: Int) throws {
        bar?.finish()
        bar = nil
        print("epoch \(epoch + 1): skipped \(files.count) file(s) that could not be loaded:")
        for file in files.prefix(20) { print("  \(file.path): \(file.reason)") }
        if files.count > 20 { print("  ... and \(files.count - 20) more (all listed in the run folder's skipped_files.txt)") }
    }

    public func epochDidEnd(_ summary: EpochSummary, trainer: Trainer, evaluation: EvaluationResult) throws {
        bar?.finish()
        bar = nil
        let plain = summary.testAccuracyWithoutAugmentation.map { String(format: " (%.4f without TTA)", $0) } ?? ""
        print(String(format: "epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f%@ top-5 %.4f | %.0f img/s, %.1f s training",
                     summary.epoch + 1, summary.trainLoss, summary.trainAccuracy, summary.testLoss, summary.testAccuracy,
                     plain, summary.testTopFiveAccuracy, summary.imagesPerSecond, summary.trainingSeconds))
    }
}
