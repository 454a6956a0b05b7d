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

    /// Test-time augmentation predicts from the mean of the logits of each image's views and
    /// keeps the plain accuracy beside it; shifts fill the uncovered pixels with a black pixel's
    /// normalised value.
    func testTestTimeAugmentation() throws {
        XCTAssertEqual(TestTimeAugmentation.mirroredHorizontally([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], shape: [2, 1, 2, 3]),
                       [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
        // Two channels of 2x3: down 1 and left 1, channel c padded with -c - 1.
        XCTAssertEqual(TestTimeAugmentation.shifted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], shape: [1, 2, 2, 3],
                                                    down: 1, right: -1, padding: [-1, -2]),
                       [-1, -1, -1, 2, 3, -1, -2, -2, -2, 8, 9, -2])
        XCTAssertThrowsError(try TestTimeAugmentation(named: "flips", mean: [0], std: [1])) { error in
            XCTAssertTrue("\(error)".contains("flip-shift"), "\(error)")
        }
        let (_, test) = try Self.smallSets()
        RandomState.seed(3)
        let model = LeNet.make(classCount: 10)
        let mean = [FashionMNIST.mean], std = [FashionMNIST.std]
        let plain = try Evaluator.evaluate(model, on: test, batchSize: 64, mean: mean, std: std)
        XCTAssertNil(plain.accuracyWithoutAugmentation)
        let loader = InMemoryBatchLoader(dataset: test, batchSize: 200, shuffle: false, mean: mean, std: std)
        guard let batch = try loader.batches(epoch: 0).next() else { return XCTFail("no test batch") }
        for name in ["flip", "flip-shift"] {
            let augmentation = try TestTimeAugmentation(named: name, mean: mean, std: std)
            XCTAssertEqual(augmentation.views.count, name == "flip" ? 2 : 6)
            XCTAssertEqual(augmentation.padding, [-FashionMNIST.mean / FashionMNIST.std])
            let averaged = try Evaluator.evaluate(model, on: test, batchSize: 64, mean: mean, std: std,
                                                  augmentation: augmentation)
            XCTAssertEqual(averaged.accuracyWithoutAugmentation, plain.accuracy, name)
            model.eval()
            // The 200 test images are one batch here.
            let (expected, expectedLoss) = try Autograd.withNoGrad {
                var sum = try model(Tensor(shape: batch.shape, data: batch.images))
                for view in augmentation.views.dropFirst() {
                    sum = sum + (try model(Tensor(shape: batch.shape,
                                                  data: augmentation.images(batch.images, shape: batch.shape, view: view))))
                }
                let mean = sum * (1 / Double(augmentation.views.count))
                return (mean.argmax(axis: 1), try Loss.crossEntropy(mean, labels: batch.labels).item())
            }
            XCTAssertEqual(batch.labels.count, 200)
            XCTAssertEqual(averaged.predictions, expected, name)
            XCTAssertEqual(averaged.loss, expectedLoss, accuracy: 1e-5, "\(name): the loss comes from the averaged logits")
        }
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
