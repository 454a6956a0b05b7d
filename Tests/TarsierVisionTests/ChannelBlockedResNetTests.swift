import TarsierCore
import TarsierNN
import TarsierSupport
@testable import TarsierVision
import XCTest

/// ResNet's channel-blocked inference path (`ResNet.channelBlockedInference`) against its plain
/// path: the same logits, taken only in evaluation without recording, and the caller's input
/// left as it was although blocks write their sums in place.
final class ChannelBlockedResNetTests: XCTestCase {
    override func setUp() {
        Device.default = .cpu
        RandomState.seed(0)
    }

    override func tearDown() { ResNet.channelBlockedInference = true }

    /// A model whose batch norms have non-trivial statistics, so folding them matters.
    private func model(_ name: String) throws -> ResNet {
        let model = try XCTUnwrap(try ModelZoo.make(name, classCount: 10, inputChannels: 3) as? ResNet)
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

    private func logits(_ model: ResNet, _ x: Tensor, blocked: Bool) throws -> [Float] {
        ResNet.channelBlockedInference = blocked
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
            ResNet.channelBlockedInference = false
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
