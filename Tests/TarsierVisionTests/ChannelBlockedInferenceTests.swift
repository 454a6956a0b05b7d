import TarsierCore
import TarsierNN
import TarsierSupport
@testable import TarsierVision
import XCTest

/// The channel-blocked inference paths of ResNet, VGG and `Sequential` (`ChannelBlockedInference`)
/// against their plain paths: the same results, taken only in evaluation without recording, and
/// the caller's input left as it was although ResNet's blocks write their sums in place.
final class ChannelBlockedInferenceTests: XCTestCase {
    override func setUp() {
        Device.default = .cpu
        RandomState.seed(0)
    }

    override func tearDown() { ChannelBlockedInference.isEnabled = true }

    /// A model whose batch norms have non-trivial statistics, so folding them matters.
    private func model(_ name: String) throws -> ResNet {
        try XCTUnwrap(try zooModel(name) as? ResNet)
    }

    private func zooModel(_ name: String) throws -> Module {
        let model = try ModelZoo.make(name, classCount: 10, inputChannels: 3)
        var generator = SeededGenerator(seed: 7)
        func values(_ count: Int, _ low: Double, _ high: Double) -> [Float] {
            (0..<count).map { _ in Float(low + (high - low) * generator.nextUnitDouble()) }
        }
        for (_, module) in model.namedModules() {
            guard let bn = module as? BatchNorm else { continue }
            let n = bn.featureCount
            bn.weight.assign(Tensor(shape: [n], data: values(n, 0.5, 1.5)))
            bn.bias.assign(Tensor(shape: [n], data: values(n, -0.2, 0.2)))
            bn.runningMean.assign(Tensor(shape: [n], data: values(n, -0.3, 0.3)))
            bn.runningVar.assign(Tensor(shape: [n], data: values(n, 0.5, 2)))
        }
        model.eval()
        return model
    }

    private func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor.normal(shape, generator: &generator)
    }

    private func logits(_ model: Module, _ x: Tensor, blocked: Bool) throws -> [Float] {
        ChannelBlockedInference.isEnabled = blocked
        return try Autograd.withNoGrad { try model(x).toArray() }
    }

    func testResNet18MatchesThePlainPath() throws {
        let model = try model("resnet18")
        for (shape, seed) in [([2, 3, 40, 48], UInt64(1)), ([1, 3, 64, 64], 2)] {
            let x = input(shape, seed: seed)
            let before = x.toArray()
            XCTAssertTrue(Autograd.withNoGrad { model.runsChannelBlocked(x) })
            let plain = try logits(model, x, blocked: false)
            let blocked = try logits(model, x, blocked: true)
            let scale = plain.map(abs).max() ?? 1
            let error = zip(plain, blocked).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error, 1e-5 * scale, "\(shape)")
            XCTAssertEqual(x.toArray(), before, "the input is untouched")
            XCTAssertEqual(try logits(model, x, blocked: true), blocked, "\(shape): a second pass gives the same logits")
        }
    }

    func testBottleneckResNetMatchesThePlainPath() throws {
        let model = try model("resnet50")
        let x = input([1, 3, 48, 40], seed: 3)
        let plain = try logits(model, x, blocked: false)
        let blocked = try logits(model, x, blocked: true)
        let scale = plain.map(abs).max() ?? 1
        XCTAssertLessThanOrEqual(zip(plain, blocked).map { abs($0 - $1) }.max() ?? 0, 1e-5 * scale)
    }

    func testVGGAndAlexNetMatchThePlainPath() throws {
        for (name, size) in [("vgg11", 32), ("vgg11_bn", 32), ("alexnet", 67)] {
            let model = try zooModel(name)
            let x = input([2, 3, size, size], seed: 6)
            let plain = try logits(model, x, blocked: false)
            let blocked = try logits(model, x, blocked: true)
            let scale = plain.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0, name)
            XCTAssertLessThanOrEqual(zip(plain, blocked).map { abs($0 - $1) }.max() ?? 0, 1e-5 * scale, name)
            let features = try XCTUnwrap((model as? VGG)?.features ?? (model as? AlexNet)?.features)
            XCTAssertTrue(features.hasChannelBlockedForm, name)
        }
    }

    /// A stack with every kind of layer the channel-blocked `Sequential` covers, on odd sizes.
    func testSequentialMatchesThePlainPath() throws {
        let stack = Sequential(
            Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(16), ReLU(),
            MaxPool2d(kernelSize: 2), Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3, padding: 1), ReLU(),
            Dropout(probability: 0.5), Conv2d(inputChannels: 32, outputChannels: 48, kernelSize: 3, stride: 2, padding: 1),
            BatchNorm2d(48), MaxPool2d(kernelSize: 3, stride: 2, padding: 1), ReLU())
        var generator = SeededGenerator(seed: 8)
        for case let bn as BatchNorm in stack.layers {
            bn.runningMean.assign(Tensor.normal([bn.featureCount], generator: &generator) * 0.2)
            bn.runningVar.assign(Tensor.normal([bn.featureCount], generator: &generator).abs() + 0.5)
        }
        stack.eval()
        XCTAssertTrue(stack.hasChannelBlockedForm)
        let x = input([3, 3, 19, 17], seed: 9)
        let (plain, blocked) = try Autograd.withNoGrad {
            (try stack(x).toArray(), try stack.channelBlockedForward(x).channelUnblocked().toArray())
        }
        let scale = plain.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0)
        XCTAssertEqual(plain.count, blocked.count)
        XCTAssertLessThanOrEqual(zip(plain, blocked).map { abs($0 - $1) }.max() ?? 0, 1e-5 * scale)
    }

    /// Each stack names the layer that keeps it off the path (by index) when asked to run it.
    func testSequentialWithoutABlockedFormIsRecognised() {
        let cases: [(String, Sequential, String)] = [
            ("24 output channels", Sequential(Conv2d(inputChannels: 3, outputChannels: 24, kernelSize: 3)), "layer 0"),
            ("ceil-mode pool", Sequential(Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3),
                                          MaxPool2d(kernelSize: 2, ceilMode: true)), "layer 1"),
            ("a linear layer", Sequential(Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 1),
                                          Linear(inputFeatures: 16, outputFeatures: 2)), "layer 1"),
            ("a pool first", Sequential(MaxPool2d(kernelSize: 2), Conv2d(inputChannels: 3, outputChannels: 16,
                                                                         kernelSize: 1)), "layer 0"),
            ("grouped", Sequential(Conv2d(inputChannels: 16, outputChannels: 16, kernelSize: 3, groups: 4)), "layer 0"),
            ("empty", Sequential([Module]()), "empty"),
        ]
        for (name, stack, culprit) in cases {
            stack.eval()
            XCTAssertFalse(stack.hasChannelBlockedForm, name)
            XCTAssertThrowsError(try Autograd.withNoGrad { try stack.channelBlockedForward(self.input([1, 3, 8, 8], seed: 1)) },
                                 name) { error in
                XCTAssertTrue(error is ShapeError, "\(name): \(error)")
                if culprit != "empty" { XCTAssertTrue("\(error)".contains(culprit), "\(name): \(error)") }
            }
        }
        let training = Sequential(Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3))
        XCTAssertFalse(training.hasChannelBlockedForm, "training mode")
        XCTAssertThrowsError(try Autograd.withNoGrad { try training.channelBlockedForward(self.input([1, 3, 8, 8], seed: 1)) }) {
            XCTAssertTrue("\($0)".contains("in training mode"), "\($0)")
        }
    }

    func testTakenOnlyInEvaluationWithoutRecording() throws {
        let model = try model("resnet18")
        let x = input([1, 3, 32, 32], seed: 4)
        XCTAssertFalse(model.runsChannelBlocked(x), "recording gradients")
        Autograd.withNoGrad {
            XCTAssertTrue(model.runsChannelBlocked(x))
            XCTAssertFalse(model.runsChannelBlocked(x.to(.reference)), "on the reference backend")
            model.layer3.layers[1].train()
            XCTAssertFalse(model.runsChannelBlocked(x), "one block in training mode")
            model.eval()
            ChannelBlockedInference.isEnabled = false
            XCTAssertFalse(model.runsChannelBlocked(x), "switched off")
        }
    }

    func testWrongInputChannelsThrowOnTheBlockedPath() throws {
        let model = try model("resnet18")
        XCTAssertThrowsError(try Autograd.withNoGrad { try model(input([1, 4, 32, 32], seed: 5)) }) { error in
            XCTAssertTrue(error is ShapeError, "\(error)")
            XCTAssertTrue("\(error)".contains("Conv2d"), "\(error)")
        }
    }
}
