import Foundation
import TarsierCore
import TarsierNN
import TarsierOptim
import TarsierData
import TarsierVision
import TarsierEval
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a run.
public struct TrainingResult: Sendable {
    public var epochs: [EpochSummary]
    /// Evaluation of the final model on the test set.
    public var finalEvaluation: EvaluationResult
    /// Training seconds (evaluation excluded) until the test accuracy first reached 90/92/93/94%.
    public var secondsToAccuracy: [Int: Double]
}

/// Trains an image classifier: the loop of forward, loss, backward and optimiser step, with
/// evaluation after each epoch and events to callbacks (progress, logs, checkpoints, reports).
public final class Trainer {
    public let options: TrainingOptions
    public let model: Module
    public let optimizer: OptimizerBase
    /// The batches it trains on and is evaluated on.
    public let data: TrainingData
    /// Normalisation applied to pixels in [0, 1], per channel.
    public var mean: [Float] { data.mean }
    /// Standard deviations of the normalisation, per channel.
    public var std: [Float] { data.std }
    public var callbacks: [TrainingCallback] = []
    /// Where the training state (model, optimiser, step, random stream) is written after every
    /// epoch, atomically, for `run(resumingFrom:)`; nil writes none.
    public var statePath: String?
    /// Convolution passes run in bf16 while `run()` trains and evaluates.
    public let bfloat16Passes: ConvolutionPasses
    /// Sets each group's learning rate (and momentum, for one-cycle) before every step.
    public let scheduler: Scheduler
    /// The views each test image is evaluated on (`options.testTimeAugmentation`).
    public let testAugmentation: TestTimeAugmentation

    /// Builds the model, optimiser and schedule that `options` name, for in-memory image sets
    /// augmented as the options say (random crop with padding, horizontal flip).
    public convenience init(options: TrainingOptions, trainSet: ImageClassificationSet, testSet: ImageClassificationSet,
                            mean: [Float], std: [Float]) throws {
        guard trainSet.classNames.count == testSet.classNames.count else {
            throw TrainingError.invalidOption("train and test sets have different classes")
        }
        try self.init(options: options, data: .inMemory(train: trainSet, test: testSet, options: options,
                                                        mean: mean, std: std))
    }

    /// Builds the model (or takes `model`), optimiser and schedule for `data`.
    /// - Parameters:
    ///   - options: The recipe; its batch size must match the data's.
    ///   - data: Training and test batches.
    ///   - model: A model to train instead of a new `options.model` (for fine-tuning).
    ///   - parameterGroups: Optimiser groups instead of all trainable parameters with decay on weights.
    public init(options: TrainingOptions, data: TrainingData, model: Module? = nil,
                parameterGroups: [ParameterGroup]? = nil) throws {
        guard options.epochs > 0, options.batchSize > 0, options.learningRate > 0 else {
            throw TrainingError.invalidOption("epochs, batch size and learning rate must be positive")
        }
        guard data.train.classNames.count == data.test.classNames.count else {
            throw TrainingError.invalidOption("train and test sets have different classes")
        }
        guard data.train.batchCount > 0 else {
            throw TrainingError.invalidOption("the training set has \(data.train.sampleCount) images, fewer than one batch of \(options.batchSize)")
        }
        self.options = options
        self.data = data
        RandomState.seed(options.seed)
        bfloat16Passes = try Trainer.convolutionPasses(options.bfloat16)
        testAugmentation = try TestTimeAugmentation(named: options.testTimeAugmentation ?? "off",
                                                    mean: data.mean, std: data.std)
        if let model {
            self.model = model
        } else {
            self.model = try ModelZoo.make(options.model, classCount: data.classNames.count,
                                           inputChannels: data.inputShape[0])
        }
        optimizer = try Trainer.makeOptimizer(options, model: self.model, groups: parameterGroups)
        let steps = options.epochs * max(data.train.batchCount, 1)
        do {
            let schedule = try ScheduleKind(parsing: options.schedule)
                .makeSchedule(totalSteps: max(steps, 2), warmupFraction: options.warmupFraction,
                              maxLearningRate: options.learningRate)
            scheduler = Scheduler(schedule: schedule, optimizer: optimizer)
        } catch let error as ScheduleConfigurationError {
            throw TrainingError.invalidOption(error.description)
        }
    }

    /// Parses the `bfloat16` option.
    public static func convolutionPasses(_ text: String) throws -> ConvolutionPasses {
        switch text {
        case "off", "none", "": return []
        case "all", "on": return .all
        case "auto": return CPUBackend.hasNativeBFloat16 ? [.forward, .backwardData, .backwardWeightsWhereFaster] : []
        default:
            var passes: ConvolutionPasses = []
            for part in text.split(separator: ",") {
                switch part.trimmingCharacters(in: .whitespaces) {
                case "forward": passes.insert(.forward)
                case "backward-data": passes.insert(.backwardData)
                case "backward-weights": passes.insert(.backwardWeights)
                default:
                    throw TrainingError.invalidOption("unknown bf16 setting '\(part)'; valid: auto, off, all, or a list of forward, backward-data, backward-weights")
                }
            }
            return passes
        }
    }

    /// Weights of rank > 1 are decayed; biases and batch-norm parameters are not (as the anchor recipe).
    static func makeOptimizer(_ o: TrainingOptions, model: Module, groups: [ParameterGroup]? = nil) throws -> OptimizerBase {
        let groups = groups ?? ParameterGroup.splittingWeightDecay(model.trainableParameters(), weightDecay: o.weightDecay)
        switch o.optimizer {
        case "sgd":
            return SGD(groups: groups, learningRate: o.learningRate, momentum: o.momentum, nesterov: o.nesterov && o.momentum > 0)
        case "adam":
            return Adam(groups: groups, learningRate: o.learningRate)
        case "adamw":
            return AdamW(groups: groups, learningRate: o.learningRate)
        default:
            throw TrainingError.invalidOption("unknown optimizer '\(o.optimizer)'; valid optimizers: sgd, adam, adamw")
        }
    }

    /// Trains for `options.epochs` epochs; with `resumingFrom`, restores a state written by an
    /// earlier run with the same options and continues after its last finished epoch, so that the
    /// final weights equal those of an uninterrupted run (same threads).
    public func run(resumingFrom resumePath: String? = nil) throws -> TrainingResult {
        // The precision switch is process-wide: bf16 only for training steps; evaluation runs in
        // Float32 so the report equals what `tarsier eval` computes from the checkpoint.
        let previousPasses = CPUBackend.bfloat16Convolutions
        defer { CPUBackend.bfloat16Convolutions = previousPasses }
        let stepsPerEpoch = data.train.batchCount
        var summaries: [EpochSummary] = []
        var reached: [Int: Double] = [:]
        var trainingSeconds = 0.0
        var globalStep = 0
        var firstEpoch = 0
        var lastEvaluation: EvaluationResult?
        if let resumePath {
            let restored = try TrainingState.restore(into: self, from: resumePath)
            (firstEpoch, globalStep, trainingSeconds) = (restored.epochsDone, restored.globalStep, restored.trainingSeconds)
            (summaries, reached) = (restored.summaries, restored.secondsToAccuracy)
            if firstEpoch >= options.epochs {
                lastEvaluation = try Evaluator.evaluate(model, on: data.test, augmentation: testAugmentation)
            }
        }
        model.train()
        for epoch in firstEpoch..<max(firstEpoch, options.epochs) {
            let batches = data.train.batches(epoch: epoch)
            callbacks.forEach { $0.epochWillStart(epoch: epoch, of: options.epochs, steps: stepsPerEpoch) }
            CPUBackend.bfloat16Convolutions = bfloat16Passes
            let start = monotonicSeconds()
            var lossSum = 0.0, correct = 0, seen = 0
            var lr = 0.0
            var step = 0
            while let batch = try batches.next() {
                defer { step += 1 }
                scheduler.apply(step: globalStep)
                lr = optimizer.groups.first?.learningRate ?? options.learningRate
                let x = Tensor(shape: batch.shape, data: batch.images)
                let logits = try model(x)
                let loss = try Loss.crossEntropy(logits, labels: batch.labels, labelSmoothing: options.labelSmoothing)
                let lossValue = loss.item()
                guard lossValue.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch + 1, step: globalStep + 1, value: lossValue)
                }
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                globalStep += 1
                lossSum += lossValue * Double(batch.count)
                correct += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
                seen += batch.count
                let event = BatchEvent(epoch: epoch, step: step, stepsPerEpoch: stepsPerEpoch, loss: lossValue,
                                       runningAccuracy: Double(correct) / Double(seen), imagesSeen: seen,
                                       learningRate: lr)
                callbacks.forEach { $0.batchDidEnd(event) }
            }
            let epochSeconds = monotonicSeconds() - start
            trainingSeconds += epochSeconds
            CPUBackend.bfloat16Convolutions = previousPasses
            if !batches.skippedFiles.isEmpty {
                for callback in callbacks { try callback.filesSkipped(batches.skippedFiles, epoch: epoch) }
            }
            let evaluation = try Evaluator.evaluate(model, on: data.test, augmentation: testAugmentation)
            lastEvaluation = evaluation
            if epoch == firstEpoch && !evaluation.skippedFiles.isEmpty {
                // The test set is read in the same order every epoch, so its bad files are reported once.
                for callback in callbacks { try callback.filesSkipped(evaluation.skippedFiles, epoch: epoch) }
            }
            for threshold in [90, 92, 93, 94] where reached[threshold] == nil && evaluation.accuracy * 100 >= Double(threshold) {
                reached[threshold] = trainingSeconds
            }
            let summary = EpochSummary(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)),
                                       trainAccuracy: Double(correct) / Double(max(seen, 1)), testLoss: evaluation.loss,
                                       testAccuracy: evaluation.accuracy,
                                       testAccuracyWithoutAugmentation: evaluation.accuracyWithoutAugmentation,
                                       testTopFiveAccuracy: evaluation.topFiveAccuracy,
                                       learningRate: lr, epochSeconds: epochSeconds, trainingSeconds: trainingSeconds,
                                       imagesPerSecond: Double(seen) / max(epochSeconds, 1e-9))
            summaries.append(summary)
            if let statePath {
                // The state goes first: a run killed before the callbacks' files are written resumes
                // from it, and the run folder rewrites its metrics from the restored summaries.
                try TrainingState.save(trainer: self, state: TrainingState(
                    epochsDone: epoch + 1, globalStep: globalStep, trainingSeconds: trainingSeconds,
                    summaries: summaries, secondsToAccuracy: reached), to: statePath)
            }
            for callback in callbacks { try callback.epochDidEnd(summary, trainer: self, evaluation: evaluation) }
        }
        guard let finalEvaluation = lastEvaluation else { throw TrainingError.invalidOption("no epoch ran") }
        let result = TrainingResult(epochs: summaries, finalEvaluation: finalEvaluation, secondsToAccuracy: reached)
        for callback in callbacks { try callback.trainingDidEnd(result, trainer: self) }
        return result
    }
}

/// Seconds from a monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
