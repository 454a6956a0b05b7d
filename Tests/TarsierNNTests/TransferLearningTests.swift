import XCTest
import TarsierCore
import TarsierSupport
@testable import TarsierNN
import TarsierVision

final class TransferLearningTests: XCTestCase {
    private func input(_ shape: [Int]) -> Tensor {
        var generator = SeededGenerator(seed: 9)
        return Tensor.normal(shape, generator: &generator)
    }

    func testClassifierHeadsOfTheZoo() throws {
        let expected: [String: [String]] = [
            // VGG and AlexNet ("classifier.6") are left out: building them takes minutes in debug builds.
            "resnet18": ["fc"], "mobilenet_v2": ["classifier.1"], "lenet5": ["11"],
        ]
        for (name, heads) in expected {
            let model = try ModelZoo.make(name, classCount: 7, inputChannels: ModelZoo.defaultInputShape(name)[0])
            XCTAssertEqual(model.classifierHeads().map(\.key), heads, name)
            XCTAssertEqual(model.classifierHeads().map(\.layer.outputFeatures), heads.map { _ in 7 }, name)
        }
    }

    func testReplaceClassifierKeepsTheBackbone() throws {
        RandomState.seed(1)
        let model = ResNet(depth: .resNet18, classCount: 10)
        let before = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.toArray()) })
        XCTAssertEqual(try model.replaceClassifier(classCount: 3), ["fc"])
        model.eval()
        let y = try model(input([2, 3, 32, 32]))
        XCTAssertEqual(y.shape, [2, 3])
        for (key, tensor) in model.stateDict() where !key.hasPrefix("fc.") {
            XCTAssertEqual(tensor.toArray(), before[key], key)
        }
        XCTAssertEqual(model.fc.weight.shape, [3, 512])
    }

    func testFreezingByBackboneAndStage() throws {
        let model = ResNet(depth: .resNet18, classCount: 4)
        try model.freezeBackbone()
        XCTAssertEqual(model.trainableKeys().trainable, ["fc.weight", "fc.bias"])
        try model.freeze(upToStage: "layer2")
        let (trainable, frozen) = model.trainableKeys()
        XCTAssertTrue(frozen.contains("conv1.weight") && frozen.contains("layer2.1.bn2.bias"))
        XCTAssertTrue(trainable.contains("layer3.0.conv1.weight") && trainable.contains("fc.weight"))
        XCTAssertFalse(trainable.contains { $0.hasPrefix("layer1.") || $0.hasPrefix("layer2.") })
        XCTAssertThrowsError(try model.freeze(upToStage: "layer9")) { error in
            XCTAssertTrue("\(error)".contains("layer4"), "the message lists the stages: \(error)")
        }
    }

    func testFrozenBatchNormKeepsItsStatistics() throws {
        let model = ResNet(depth: .resNet18, classCount: 4)
        try model.freeze(upToStage: "layer1")
        model.freezeBatchNormStatistics()
        model.train()
        XCTAssertFalse(model.bn1.isTraining)
        XCTAssertTrue(model.layer4.isTraining)
        let mean = model.bn1.runningMean.toArray()
        _ = try model(input([2, 3, 32, 32]))
        XCTAssertEqual(model.bn1.runningMean.toArray(), mean, "a frozen batch norm does not update its statistics")
        XCTAssertEqual(model.bn1.numBatchesTracked.toArray(), [0])
    }

    func testPretrainedBackboneLoadsAllButTheHead() throws {
        RandomState.seed(2)
        let pretrained = ResNet(depth: .resNet18, classCount: 10)
        let entries = pretrained.stateDictEntries()
        RandomState.seed(3)
        let model = ResNet(depth: .resNet18, classCount: 3)
        XCTAssertEqual(try model.loadPretrainedBackbone(entries, file: "pretrained.safetensors"), ["fc"])
        XCTAssertEqual(model.layer3.stateDict().first?.1.toArray(), pretrained.layer3.stateDict().first?.1.toArray())
        XCTAssertEqual(model.fc.weight.shape, [3, 512])

        let other = try ModelZoo.make("mobilenet_v2", classCount: 3, inputChannels: 3)
        XCTAssertThrowsError(try other.loadPretrainedBackbone(entries, file: "resnet.safetensors")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("resnet.safetensors") && text.contains("features.0.0.weight")
                              && text.contains("unexpected"), text)
        }
    }

    func testExposedFeaturesAreTheHeadsInputs() throws {
        RandomState.seed(4)
        let model = ResNet(depth: .resNet18, classCount: 5)
        model.eval()
        let x = input([2, 3, 32, 32])
        let logits = try model(x).toArray()
        let weight = model.fc.weight.toArray(), bias = try XCTUnwrap(model.fc.bias).toArray()
        XCTAssertEqual(try model.exposeFeatures(), 512)
        let features = try model(x)
        XCTAssertEqual(features.shape, [2, 512])
        let f = features.toArray()
        for n in 0..<2 {
            for k in 0..<5 {
                var sum = Double(bias[k])
                for i in 0..<512 { sum += Double(f[n * 512 + i]) * Double(weight[k * 512 + i]) }
                XCTAssertEqual(sum, Double(logits[n * 5 + k]), accuracy: 1e-4)
            }
        }
    }
}
