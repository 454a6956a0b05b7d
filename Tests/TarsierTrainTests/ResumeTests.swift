import XCTest
import Foundation
@testable import Tarsier

final class ResumeTests: XCTestCase {
    struct SimulatedCrash: Error {}

    /// Throws after a given epoch, as a kill after the state file was written would stop a run.
    final class CrashAfterEpoch: TrainingCallback {
        let epoch: Int
        init(epoch: Int) { self.epoch = epoch }
        func epochDidEnd(_ summary: EpochSummary, trainer: Trainer, evaluation: EvaluationResult) throws {
            if summary.epoch == epoch { throw SimulatedCrash() }
        }
    }

    func options() throws -> TrainingOptions {
        var o = try TrainingOptions.preset("lenet")
        o.epochs = 3
        o.batchSize = 64
        o.evaluationBatchSize = 100
        return o
    }

    func weights(_ model: Module) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.toArray()) })
    }

    func testResumedRunEndsWithBitwiseEqualWeights() throws {
        let (train, test) = try TrainerTests.smallSets()
        let mean = [FashionMNIST.mean], std = [FashionMNIST.std]
        let folder = NSTemporaryDirectory() + "tarsier-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        let statePath = folder + "/training_state.safetensors"

        let uninterrupted = try Trainer(options: options(), trainSet: train, testSet: test, mean: mean, std: std)
        let full = try uninterrupted.run()

        let first = try Trainer(options: options(), trainSet: train, testSet: test, mean: mean, std: std)
        first.statePath = statePath
        first.callbacks = [CrashAfterEpoch(epoch: 1)]
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is SimulatedCrash) }
        XCTAssertEqual(try TrainingState.savedSummaries(at: statePath).count, 2)

        // A new trainer, as a new process would build: fresh model, optimiser and random stream.
        RandomState.seed(12345)
        let second = try Trainer(options: options(), trainSet: train, testSet: test, mean: mean, std: std)
        second.statePath = statePath
        let resumed = try second.run(resumingFrom: statePath)

        XCTAssertEqual(resumed.epochs.count, 3)
        XCTAssertEqual(weights(second.model), weights(uninterrupted.model), "weights must be bitwise equal")
        XCTAssertEqual(resumed.finalEvaluation.predictions, full.finalEvaluation.predictions)
        XCTAssertEqual(second.optimizer.stepCount, uninterrupted.optimizer.stepCount)
    }

    func testStateFromOtherOptionsIsRefused() throws {
        let (train, test) = try TrainerTests.smallSets()
        let folder = NSTemporaryDirectory() + "tarsier-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        var o = try options()
        o.epochs = 1
        let first = try Trainer(options: o, trainSet: train, testSet: test, mean: [0.5], std: [0.5])
        first.statePath = folder + "/state.safetensors"
        _ = try first.run()
        o.learningRate = 0.5
        let other = try Trainer(options: o, trainSet: train, testSet: test, mean: [0.5], std: [0.5])
        XCTAssertThrowsError(try other.run(resumingFrom: folder + "/state.safetensors")) {
            XCTAssertTrue(String(describing: $0).contains("other options"), "\($0)")
        }
    }
}
