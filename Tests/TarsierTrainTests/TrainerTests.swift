import XCTest
import Foundation
@testable import Tarsier

final class TrainerTests: XCTestCase {
    static func smallSets() throws -> (ImageClassificationSet, ImageClassificationSet) {
        let train = try FashionMNIST.load(split: .train).subset(Array(0..<512))
        let test = try FashionMNIST.load(split: .test).subset(Array(0..<200))
        return (train, test)
    }

    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "tarsier-test-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func lenetOptions() -> TrainingOptions {
        var o = try! TrainingOptions.preset("lenet")
        o.epochs = 3
        o.batchSize = 32
        o.learningRate = 0.1
        o.evaluationBatchSize = 100
        return o
    }

    func testRunFolderAndCheckpointRoundTrip() throws {
        let (train, test) = try Self.smallSets()
        let folder = temporaryDirectory()
        let trainer = try Trainer(options: lenetOptions(), trainSet: train, testSet: test,
                                  mean: [FashionMNIST.mean], std: [FashionMNIST.std])
        trainer.callbacks = [try RunFolderCallback(directory: folder, options: trainer.options, classNames: train.classNames)]
        let result = try trainer.run()
        XCTAssertEqual(result.epochs.count, 3)
        XCTAssertGreaterThan(result.finalEvaluation.accuracy, 0.3, "3 epochs on 512 images should beat chance (0.1) by far")

        for name in ["config.json", "metrics.jsonl", "model.safetensors", "report.txt", "report.json", "predictions.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + name), "missing \(name)")
        }
        let csv = try String(contentsOfFile: folder + "/predictions.csv", encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 201, "header plus one row per test image")
        let report = try String(contentsOfFile: folder + "/report.txt", encoding: .utf8)
        XCTAssertTrue(report.contains("macro avg") && report.contains("Ankle boot"))

        // The saved checkpoint reproduces the final evaluation exactly.
        let checkpoint = try Checkpoint.load(from: folder + "/model.safetensors")
        XCTAssertEqual(checkpoint.modelName, "lenet5")
        XCTAssertEqual(checkpoint.classNames, FashionMNIST.classNames)
        let again = try Evaluator.evaluate(checkpoint.model, on: test, batchSize: 100, mean: checkpoint.mean,
                                           std: checkpoint.std)
        XCTAssertEqual(again.predictions, result.finalEvaluation.predictions)
    }

    func testNonFiniteLossStopsAndKeepsLastCheckpoint() throws {
        let (train, test) = try Self.smallSets()
        let folder = temporaryDirectory()
        let first = try Trainer(options: lenetOptions(), trainSet: train, testSet: test,
                                mean: [FashionMNIST.mean], std: [FashionMNIST.std])
        first.callbacks = [try RunFolderCallback(directory: folder, options: first.options, classNames: train.classNames)]
        _ = try first.run()
        let checkpointPath = folder + "/model.safetensors"
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpointPath))

        var exploding = lenetOptions()
        exploding.learningRate = 1e30
        exploding.schedule = "constant"
        let second = try Trainer(options: exploding, trainSet: train, testSet: test,
                                 mean: [FashionMNIST.mean], std: [FashionMNIST.std])
        second.callbacks = [try RunFolderCallback(directory: folder, options: exploding, classNames: train.classNames)]
        XCTAssertThrowsError(try second.run()) { error in
            guard case TrainingError.nonFiniteLoss(let epoch, let step, _) = error else {
                return XCTFail("expected nonFiniteLoss, got \(error)")
            }
            XCTAssertEqual(epoch, 1)
            XCTAssertGreaterThan(step, 1)
            XCTAssertTrue(String(describing: error).contains("step \(step)"))
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: checkpointPath))
        XCTAssertEqual(before, after, "the last good checkpoint must be untouched")
    }

    func testInvalidOptionsNameTheValidChoices() throws {
        let (train, test) = try Self.smallSets()
        var o = lenetOptions()
        o.model = "resnet7"
        XCTAssertThrowsError(try Trainer(options: o, trainSet: train, testSet: test, mean: [0.5], std: [0.5])) {
            XCTAssertTrue(String(describing: $0).contains("resnet9s"), "\($0)")
        }
        o = lenetOptions()
        o.optimizer = "rmsprop"
        XCTAssertThrowsError(try Trainer(options: o, trainSet: train, testSet: test, mean: [0.5], std: [0.5])) {
            XCTAssertTrue(String(describing: $0).contains("adamw"), "\($0)")
        }
        o = lenetOptions()
        o.schedule = "sawtooth"
        XCTAssertThrowsError(try Trainer(options: o, trainSet: train, testSet: test, mean: [0.5], std: [0.5])) {
            XCTAssertTrue(String(describing: $0).contains("linear-onecycle"), "\($0)")
        }
    }

    func testShapeErrorNamesLayerAndShapes() throws {
        let model = try ModelZoo.make("lenet5", classCount: 10, inputChannels: 1)
        let wrong = Tensor(zeros: [2, 3, 28, 28])
        XCTAssertThrowsError(try model(wrong)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("Conv2d(1, 6") && text.contains("[2, 3, 28, 28]"), text)
        }
    }
}
