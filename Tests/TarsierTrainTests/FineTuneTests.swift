import XCTest
import Foundation
@testable import Tarsier

final class FineTuneTests: XCTestCase {
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "tarsier-finetune-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A LeNet-5 checkpoint trained briefly on Fashion-MNIST, and an image folder of other images.
    func pretrainedCheckpointAndFolder() throws -> (checkpoint: String, folder: String) {
        let root = temporaryDirectory()
        var o = try TrainingOptions.preset("lenet")
        o.epochs = 1
        o.batchSize = 32
        o.evaluationBatchSize = 100
        let train = try FashionMNIST.load(split: .train).subset(Array(0..<256))
        let test = try FashionMNIST.load(split: .test).subset(Array(0..<100))
        let trainer = try Trainer(options: o, trainSet: train, testSet: test, mean: [FashionMNIST.mean],
                                  std: [FashionMNIST.std])
        _ = try trainer.run()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let checkpoint = root + "/pretrained.safetensors"
        try Checkpoint.save(model: trainer.model, options: o, classNames: train.classNames, inputShape: [1, 28, 28],
                            mean: [FashionMNIST.mean], std: [FashionMNIST.std], epoch: 1, to: checkpoint)
        let other = try FashionMNIST.load(split: .test).subset(Array(1000..<1160))
        _ = try ImageFolderExport.write(other, to: root + "/folder")
        return (checkpoint, root + "/folder")
    }

    func options(checkpoint: String, folder: String, freeze: String) throws -> TrainingOptions {
        var o = FineTuneOptions.trainingDefaults(model: "lenet5")
        o.epochs = 2
        o.batchSize = 16
        var fineTune = FineTuneOptions(weights: checkpoint)
        fineTune.freeze = freeze
        o.fineTune = fineTune
        var folderOptions = FolderDataOptions(root: folder)
        folderOptions.validationFraction = 0.25
        try FineTuning.adaptFolderOptions(&folderOptions, model: "lenet5", weights: try PretrainedWeights.read(checkpoint))
        o.folder = folderOptions
        return o
    }

    func testLinearProbeTrainsOnlyTheNewHead() throws {
        let (checkpoint, folder) = try pretrainedCheckpointAndFolder()
        let o = try options(checkpoint: checkpoint, folder: folder, freeze: "backbone")
        XCTAssertEqual(o.folder?.channels, 1)
        XCTAssertEqual(o.folder?.imageSize, 28)
        XCTAssertEqual(o.folder?.mean, [FashionMNIST.mean], "the checkpoint's normalisation is reused")
        let (trainer, about) = try FineTuning.makeTrainer(o)
        XCTAssertEqual(about.inputShape, [1, 28, 28])
        let pretrained = try Checkpoint.load(from: checkpoint).model
        let before = Dictionary(uniqueKeysWithValues: trainer.model.stateDict().map { ($0.0, $0.1.toArray()) })
        for (key, tensor) in pretrained.stateDict() where !key.hasPrefix("11.") {
            XCTAssertEqual(before[key], tensor.toArray(), "\(key) is loaded from the checkpoint")
        }
        let result = try trainer.run()
        XCTAssertEqual(result.epochs.count, 2)
        XCTAssertEqual(result.finalEvaluation.classNames.count, 10)
        for (key, tensor) in trainer.model.stateDict() {
            if key.hasPrefix("11.") {
                XCTAssertNotEqual(tensor.toArray(), before[key], "the head \(key) trains")
            } else {
                XCTAssertEqual(tensor.toArray(), before[key], "the frozen \(key) does not change")
            }
        }
    }

    func testFullFineTuningUsesALowerBackboneRate() throws {
        let (checkpoint, folder) = try pretrainedCheckpointAndFolder()
        let o = try options(checkpoint: checkpoint, folder: folder, freeze: "none")
        let (trainer, _) = try FineTuning.makeTrainer(o)
        let rates = Dictionary(uniqueKeysWithValues: trainer.optimizer.groups.map { ($0.name, $0.baseLearningRate ?? 0) })
        XCTAssertEqual(rates["head_decay"] ?? 0, 0.01, accuracy: 1e-12)
        XCTAssertEqual(rates["backbone_decay"] ?? 0, 0.001, accuracy: 1e-12)
        let before = trainer.model.stateDict().first { $0.0 == "0.weight" }?.1.toArray()
        _ = try trainer.run()
        XCTAssertNotEqual(trainer.model.stateDict().first { $0.0 == "0.weight" }?.1.toArray(), before)
    }

    func testWeightsOfAnotherArchitectureAreRefused() throws {
        let (checkpoint, folder) = try pretrainedCheckpointAndFolder()
        var o = try options(checkpoint: checkpoint, folder: folder, freeze: "none")
        o.model = "resnet9s"
        XCTAssertThrowsError(try FineTuning.makeTrainer(o)) { error in
            XCTAssertTrue("\(error)".contains("pretrained.safetensors") && "\(error)".contains("unexpected"), "\(error)")
        }
    }
}

final class FolderTrainingTests: XCTestCase {
    func testStreamedFolderSkipsABadFileAndListsItInTheRunFolder() throws {
        let root = NSTemporaryDirectory() + "tarsier-folder-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let images = try FashionMNIST.load(split: .test).subset(Array(0..<120))
        _ = try ImageFolderExport.write(images, to: root + "/data")
        let broken = root + "/data/Bag/broken.png"
        try Data("not a picture".utf8).write(to: URL(fileURLWithPath: broken))

        var o = try TrainingOptions.preset("lenet")
        o.epochs = 1
        o.batchSize = 16
        o.evaluationBatchSize = 50
        var folder = FolderDataOptions(root: root + "/data")
        folder.augmentation = "resized-crop-flip"  // streamed: decoded every epoch by the loader's threads
        folder.validationFraction = 0.2
        folder.maxBadFraction = 0
        o.folder = folder
        let (data, about) = try FolderData.make(folder, training: o)
        XCTAssertFalse(about.inMemory)
        XCTAssertEqual(about.inputShape, [1, 28, 28])
        let trainer = try Trainer(options: o, data: data)
        let runFolder = try RunFolderCallback(directory: root + "/run", options: o, classNames: data.classNames)
        trainer.callbacks = [runFolder]
        let result = try trainer.run()
        XCTAssertEqual(result.epochs.count, 1)
        let listed = try String(contentsOfFile: root + "/run/skipped_files.txt", encoding: .utf8)
        XCTAssertTrue(listed.contains(broken), listed)
    }
}
