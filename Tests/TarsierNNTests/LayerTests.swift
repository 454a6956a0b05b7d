import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision
import XCTest

/// Parameter names, shapes and initialisation of the layers; `state_dict` keys of the zoo models.
final class LayerTests: XCTestCase {

    /// Asserts that `t` looks like U(-bound, bound): inside the bound, reaching near it, mean ≈ 0 and
    /// variance ≈ bound²/3 (within 5 standard errors).
    func assertUniform(_ t: Tensor, bound: Double, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let v = t.toDoubleArray()
        let n = Double(v.count)
        let maxAbs = v.map { Swift.abs($0) }.max() ?? 0
        XCTAssertLessThanOrEqual(maxAbs, bound * (1 + 1e-6), "\(label): |w| must be ≤ 1/√fan_in = \(bound)", file: file, line: line)
        if v.count >= 1000 {
            XCTAssertGreaterThan(maxAbs, bound * 0.99, "\(label): max |w| \(maxAbs) far below the bound \(bound)", file: file, line: line)
        }
        let mean = v.reduce(0, +) / n
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let expectedVariance = bound * bound / 3
        XCTAssertLessThan(Swift.abs(mean), 5 * bound / (3 * n).squareRoot(), "\(label): mean \(mean)", file: file, line: line)
        // Var(w²) = 4b⁴/45 for U(-b, b).
        let varianceError = 5 * (4.0 / 45 / n).squareRoot() * bound * bound
        XCTAssertEqual(variance, expectedVariance, accuracy: varianceError,
                       "\(label): variance \(variance), expected b²/3 = \(expectedVariance)", file: file, line: line)
        XCTAssertGreaterThan(Set(v).count, v.count * 9 / 10, "\(label): values repeat", file: file, line: line)
    }

    func keys(_ pairs: [(String, Tensor)]) -> [String] { pairs.map(\.0) }

    // MARK: Conv2d / Linear / BatchNorm

    func testConv2dParametersAndDefaultInit() {
        RandomState.seed(11)
        let conv = Conv2d(inputChannels: 64, outputChannels: 128, kernelSize: 3, padding: 1)
        XCTAssertEqual(keys(conv.namedParameters()), ["weight", "bias"])
        XCTAssertEqual(keys(conv.stateDict()), ["weight", "bias"])
        XCTAssertEqual(conv.weight.shape, [128, 64, 3, 3])
        XCTAssertEqual(conv.bias?.shape, [128])
        XCTAssertEqual(conv.parameterCount, 128 * 64 * 9 + 128)
        XCTAssertTrue(conv.weight.requiresGrad)
        XCTAssertEqual(conv.weight.dtype, .float32)
        let bound = 1 / (64.0 * 9).squareRoot()
        assertUniform(conv.weight, bound: bound, "Conv2d(64,128,3).weight")
        assertUniform(conv.bias!, bound: bound, "Conv2d(64,128,3).bias")

        let noBias = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 5, bias: false)
        XCTAssertEqual(keys(noBias.stateDict()), ["weight"])
        XCTAssertNil(noBias.bias)
        XCTAssertEqual(noBias.weight.shape, [8, 3, 5, 5])

        // Grouped: weight [out, in/groups, k, k], fan_in = in/groups·k².
        let grouped = Conv2d(inputChannels: 64, outputChannels: 256, kernelSize: 3, groups: 4)
        XCTAssertEqual(grouped.weight.shape, [256, 16, 3, 3])
        assertUniform(grouped.weight, bound: 1 / (16.0 * 9).squareRoot(), "Conv2d(64,256,3,groups 4).weight")
        assertUniform(grouped.bias!, bound: 1 / (16.0 * 9).squareRoot(), "Conv2d(64,256,3,groups 4).bias")
        let depthwise = Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, groups: 32)
        XCTAssertEqual(depthwise.weight.shape, [32, 1, 3, 3])
    }

    func testLinearParametersAndDefaultInit() {
        RandomState.seed(12)
        let fc = Linear(inputFeatures: 300, outputFeatures: 200)
        XCTAssertEqual(keys(fc.namedParameters()), ["weight", "bias"])
        XCTAssertEqual(fc.weight.shape, [200, 300])
        XCTAssertEqual(fc.bias?.shape, [200])
        XCTAssertEqual(fc.parameterCount, 300 * 200 + 200)
        let bound = 1 / 300.0.squareRoot()
        assertUniform(fc.weight, bound: bound, "Linear(300,200).weight")
        assertUniform(fc.bias!, bound: bound, "Linear(300,200).bias")
        let noBias = Linear(inputFeatures: 4, outputFeatures: 2, bias: false)
        XCTAssertEqual(keys(noBias.stateDict()), ["weight"])
    }

    func testInitialisationFollowsTheSeed() {
        RandomState.seed(5)
        let a = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3).weight.toDoubleArray()
        RandomState.seed(5)
        let b = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3).weight.toDoubleArray()
        let c = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3).weight.toDoubleArray()
        XCTAssertEqual(a, b, "same seed, same weights")
        XCTAssertNotEqual(a, c, "the stream advances")
    }

    func testBatchNormParametersAndBuffers() {
        let bn = BatchNorm2d(7)
        XCTAssertEqual(keys(bn.stateDict()), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(keys(bn.namedParameters()), ["weight", "bias"], "running statistics are buffers")
        XCTAssertEqual(bn.weight.toDoubleArray(), [Double](repeating: 1, count: 7))
        XCTAssertEqual(bn.bias.toDoubleArray(), [Double](repeating: 0, count: 7))
        XCTAssertEqual(bn.runningMean.toDoubleArray(), [Double](repeating: 0, count: 7))
        XCTAssertEqual(bn.runningVar.toDoubleArray(), [Double](repeating: 1, count: 7))
        XCTAssertEqual(bn.numBatchesTracked.shape, [])
        XCTAssertEqual(bn.numBatchesTracked.item(), 0)
        XCTAssertEqual(bn.epsilon, 1e-5)
        XCTAssertEqual(bn.momentum, 0.1)
        XCTAssertFalse(bn.runningMean.requiresGrad)
        XCTAssertEqual(bn.stateDictEntries()["num_batches_tracked"]?.dtype, .i64)
        let bn1 = BatchNorm1d(5)
        XCTAssertEqual(keys(bn1.stateDict()), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(bn1.weight.shape, [5])
    }

    func testParameterlessLayersHaveNoState() {
        let layers: [Module] = [ReLU(), LeakyReLU(), Sigmoid(), Tanh(), GELU(), MaxPool2d(kernelSize: 2),
                                AvgPool2d(kernelSize: 2), AdaptiveAvgPool2d(1), AdaptiveMaxPool2d(1), Dropout(),
                                Flatten(), Scale(0.125), Identity()]
        for layer in layers {
            XCTAssertTrue(layer.stateDict().isEmpty, "\(layer.layerDescription) has state \(keys(layer.stateDict()))")
        }
    }

    func testTrainAndEvalReachEveryModule() {
        let model = ResNet9.make()
        model.eval()
        for (key, m) in model.namedModules() { XCTAssertFalse(m.isTraining, "'\(key)' still training after eval()") }
        model.train()
        for (key, m) in model.namedModules() { XCTAssertTrue(m.isTraining, "'\(key)' not training after train()") }
    }

    func testDropoutIsIdentityInEvalAndScalesInTraining() throws {
        let drop = Dropout(probability: 0.25)
        let x = Tensor(repeating: 1, shape: [4000], dtype: .float64, device: .reference)
        drop.eval()
        XCTAssertEqual(try drop(x).toDoubleArray(), x.toDoubleArray())
        drop.train()
        RandomState.seed(3)
        let y = try drop(x).toDoubleArray()
        XCTAssert(y.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / 0.75) < 1e-12 }, "kept values are scaled by 1/(1-p)")
        let zeroFraction = Double(y.filter { $0 == 0 }.count) / Double(y.count)
        XCTAssertEqual(zeroFraction, 0.25, accuracy: 0.04)
    }

    // MARK: zoo models

    func stateKeys(of fixture: NNFixture) -> Set<String> {
        Set(fixture.tensors.keys.filter { $0 != "input" && $0 != "output" && !$0.hasSuffix(".grad") })
    }

    func testLeNetStateDictMatchesFixture() throws {
        let f = try NNFixture.load("lenet5")
        let model = LeNet.make()
        let sd = model.stateDict()
        XCTAssertEqual(Set(keys(sd)), stateKeys(of: f))
        XCTAssertEqual(keys(sd), ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                                  "9.weight", "9.bias", "11.weight", "11.bias"], "PyTorch order")
        for (key, t) in sd where f.has(key) { XCTAssertEqual(t.shape, try f.shape(key), key) }
        XCTAssertEqual(model.parameterCount, 61_706)
    }

    func testResNet9StateDictMatchesFixture() throws {
        let f = try NNFixture.load("resnet9s")
        XCTAssertEqual(try f.intList("widths"), [32, 64, 128])
        let model = ResNet9.make()
        let sd = model.stateDict()
        let expected = stateKeys(of: f)
        XCTAssertEqual(Set(keys(sd)), expected,
                       "extra: \(Set(keys(sd)).subtracting(expected).sorted()); missing: \(expected.subtracting(keys(sd)).sorted())")
        XCTAssertEqual(sd.count, expected.count, "duplicate keys")
        for (key, t) in sd where f.has(key) { XCTAssertEqual(t.shape, try f.shape(key), key) }
        XCTAssertEqual(model.parameterCount, 468_080)
        XCTAssertEqual(Set(keys(model.namedParameters())),
                       expected.filter { !$0.hasSuffix("running_mean") && !$0.hasSuffix("running_var")
                           && !$0.hasSuffix("num_batches_tracked") })
    }

    func testResNet18MatchesTorchvision() throws {
        RandomState.seed(18)
        let model = ResNet(depth: .resNet18)
        let sd = model.stateDict()
        XCTAssertEqual(torchvisionResNet18StateDict.count, 122)
        XCTAssertEqual(keys(sd), torchvisionResNet18StateDict.map(\.0), "state_dict keys in torchvision's order")
        let shapes = Dictionary(uniqueKeysWithValues: torchvisionResNet18StateDict)
        for (key, t) in sd { XCTAssertEqual(t.shape, shapes[key], key) }
        XCTAssertEqual(model.parameterCount, 11_689_512)
        XCTAssertEqual(model.namedParameters().count, 62)

        // torchvision's init: Kaiming-normal (fan_out, relu) convolutions, unit BN, default Linear.
        let conv1 = model.conv1.weight.toDoubleArray()
        let std = (conv1.reduce(0) { $0 + $1 * $1 } / Double(conv1.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / (64 * 49)).squareRoot(), accuracy: 0.05 * (2.0 / (64 * 49)).squareRoot(),
                       "conv1.weight std")
        assertUniform(model.fc.weight, bound: 1 / 512.0.squareRoot(), "fc.weight")
        XCTAssertEqual(model.bn1.weight.toDoubleArray(), [Double](repeating: 1, count: 64))

        // Shape smoke test at 32x32.
        model.eval()
        var generator = SeededGenerator(seed: 1)
        let x = Tensor.normal([1, 3, 32, 32], generator: &generator)
        let y = try Autograd.withNoGrad { try model(x) }
        XCTAssertEqual(y.shape, [1, 1000])
        XCTAssert(y.toDoubleArray().allSatisfy(\.isFinite))
    }

    func testModelZooNames() throws {
        XCTAssertEqual(try ModelZoo.make("lenet5", classCount: 10, inputChannels: 1).parameterCount, 61_706)
        XCTAssertEqual(try ModelZoo.make("resnet9s", classCount: 10, inputChannels: 1).parameterCount, 468_080)
        let e = expectError(UnknownModelError.self, "unknown model") {
            _ = try ModelZoo.make("resnet7", classCount: 10, inputChannels: 1)
        }
        XCTAssert(e?.description.contains("resnet7") ?? false)
    }

    // MARK: shape errors

    func testConv2dWrongChannelCountThrowsShapeError() {
        let conv = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1)
        let x = Tensor(zeros: [2, 4, 8, 8])
        let e = expectError(ShapeError.self, "Conv2d with 4 channels") { _ = try conv(x) }
        let d = e?.description ?? ""
        XCTAssert(d.contains("Conv2d(3, 8"), "names the layer: \(d)")
        XCTAssert(d.contains("[N, 3, H, W]"), "names the expected shape: \(d)")
        XCTAssert(d.contains("[2, 4, 8, 8]"), "names the actual shape: \(d)")
        // Wrong rank too.
        let e2 = expectError(ShapeError.self, "Conv2d with a rank-3 input") { _ = try conv(Tensor(zeros: [3, 8, 8])) }
        XCTAssert(e2?.description.contains("[3, 8, 8]") ?? false, e2?.description ?? "")
    }

    func testLinearWrongFeatureCountThrowsShapeError() {
        let fc = Linear(inputFeatures: 10, outputFeatures: 5)
        let e = expectError(ShapeError.self, "Linear with 7 features") { _ = try fc(Tensor(zeros: [2, 7])) }
        let d = e?.description ?? ""
        XCTAssert(d.contains("Linear(in_features=10, out_features=5"), "names the layer: \(d)")
        XCTAssert(d.contains("[..., 10]"), "names the expected shape: \(d)")
        XCTAssert(d.contains("[2, 7]"), "names the actual shape: \(d)")
    }

    func testBatchNormWrongChannelCountThrowsShapeError() {
        let bn = BatchNorm2d(16)
        let e = expectError(ShapeError.self, "BatchNorm2d with 8 channels") { _ = try bn(Tensor(zeros: [2, 8, 4, 4])) }
        let d = e?.description ?? ""
        XCTAssert(d.contains("BatchNorm2d(16"), d)
        XCTAssert(d.contains("[2, 8, 4, 4]"), d)
    }

    /// Inside a model the error still names the offending layer.
    func testShapeErrorsPropagateThroughModels() {
        let lenet = LeNet.make()
        let e = expectError(ShapeError.self, "LeNet on 3 channels") { _ = try lenet(Tensor(zeros: [1, 3, 28, 28])) }
        XCTAssert(e?.description.contains("Conv2d(1, 6") ?? false, e?.description ?? "")
        // 32x32 input reaches the first Linear with 16·6·6 = 576 features instead of 400.
        let e2 = expectError(ShapeError.self, "LeNet on 32x32") { _ = try lenet(Tensor(zeros: [1, 1, 32, 32])) }
        XCTAssert(e2?.description.contains("in_features=400") ?? false, e2?.description ?? "")
        XCTAssert(e2?.description.contains("[1, 576]") ?? false, e2?.description ?? "")
    }
}
