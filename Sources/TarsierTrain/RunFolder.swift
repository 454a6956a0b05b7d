import TarsierCore
import TarsierData
import TarsierNN
import TarsierSupport
import TarsierEval
import Foundation

/// Writes a run folder: `config.json`, `metrics.jsonl` (one line per epoch), `model.safetensors`
/// (after every epoch, atomically), and at the end `report.txt`, `report.json` and `predictions.csv`.
public final class RunFolderCallback: TrainingCallback {
    public let directory: String
    private let metrics: JSONLinesWriter
    private let classNames: [String]

    /// The training-state file inside a run folder.
    public static func statePath(in directory: String) -> String { join(directory, "training_state.safetensors") }

    /// Creates the folder (and parents) and writes the configuration; `resumedSummaries` (epochs
    /// already done, when resuming) are written back to `metrics.jsonl` first.
    public init(directory: String, options: TrainingOptions, classNames: [String],
                resumedSummaries: [EpochSummary] = []) throws {
        self.directory = directory
        self.classNames = classNames
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.checkpoint("cannot create run folder \(directory): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(options), to: RunFolderCallback.join(directory, "config.json"))
        metrics = try JSONLinesWriter(path: RunFolderCallback.join(directory, "metrics.jsonl"), append: false)
        for summary in resumedSummaries { try metrics.write(summary) }
    }

    /// A path inside the run folder.
    public func path(_ name: String) -> String { RunFolderCallback.join(directory, name) }

    static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    public func epochDidEnd(_ summary: EpochSummary, trainer: Trainer, evaluation: EvaluationResult) throws {
        try metrics.write(summary)
        try Checkpoint.save(model: trainer.model, options: trainer.options, classNames: classNames,
                            inputShape: trainer.data.inputShape,
                            mean: trainer.mean, std: trainer.std, epoch: summary.epoch + 1,
                            to: path("model.safetensors"))
    }

    /// Appends the epoch's skipped files to `skipped_files.txt` (epoch, path, reason; tab-separated).
    public func filesSkipped(_ files: [SkippedFile], epoch: Int) throws {
        let lines = files.map { "\(epoch + 1)\t\($0.path)\t\($0.reason.replacingOccurrences(of: "\n", with: " "))\n" }.joined()
        let file = path("skipped_files.txt")
        let previous = FileManager.default.contents(atPath: file).map { [UInt8]($0) } ?? []
        try AtomicFile.write(previous + Array(lines.utf8), to: file)
    }

    public func trainingDidEnd(_ result: TrainingResult, trainer: Trainer) throws {
        let evaluation = result.finalEvaluation
        let text = ReportText.render(evaluation)
        try AtomicFile.write(text, to: path("report.txt"))
        try evaluation.report.write(jsonTo: path("report.json"))
        try PredictionsCSV.write(labels: evaluation.labels, predictions: evaluation.predictions, to: path("predictions.csv"))
        metrics.close()
    }
}

/// The end-of-run text: accuracy, the per-class report and the confusion matrix.
public enum ReportText {
    public static func render(_ evaluation: EvaluationResult) -> String {
        var lines: [String] = []
        lines.append(String(format: "test accuracy %.4f (top-5 %.4f) on %d images", evaluation.accuracy,
                            evaluation.topFiveAccuracy, evaluation.labels.count))
        if let plain = evaluation.accuracyWithoutAugmentation {
            lines.append(String(format: "(predicted from the mean logits of several views of each image, test-time augmentation; %.4f without)", plain))
        }
        lines.append("")
        lines.append(evaluation.report.text(digits: 4))
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        lines.append(evaluation.confusionMatrix.text(classNames: evaluation.classNames))
        return lines.joined(separator: "\n")
    }
}
