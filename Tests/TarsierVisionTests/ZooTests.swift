import Foundation
import TarsierCore
import TarsierNN
import TarsierVision
import XCTest

/// Checks the zoo's torchvision copies against torchvision 0.14's `state_dict` (keys, order, shapes)
/// and parameter counts, recorded by scripts/make_zoo_keys.py in Fixtures/zoo_keys.json, runs each
/// once forward, and checks FLOP counts against published figures.
final class ZooTests: XCTestCase {
    struct Expected: Decodable {
        let parameters: Int
        let keys: [[Key]]
        enum Key: Decodable {
            case name(String), shape([Int])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .name(s) } else { self = .shape(try c.decode([Int].self)) }
            }
        }
        var pairs: [(String, [Int])] {
            keys.map { row in
                guard case .name(let k) = row[0], case .shape(let s) = row[1] else { return ("?", []) }
                return (k, s)
            }
        }
    }

    static let fixture: [String: Expected] = {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
              let data = try? Data(contentsOf: folder.appendingPathComponent("zoo_keys.json")),
              let decoded = try? JSONDecoder().decode([String: Expected].self, from: data) else { return [:] }
        return decoded
    }()

    override func setUp() {
        Device.default = .cpu
        RandomState.seed(0)
    }

    /// Compares `model`'s state dict with torchvision's for `name`: same keys in the same order, same
    /// shapes, same parameter count.
    func assertMatchesTorchvision(_ name: String, _ model: Module, prefix: String? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) {
        guard let expected = Self.fixture[name] else {
            return XCTFail("no fixture entry for \(name)", file: file, line: line)
        }
        let actual = model.stateDict().map { key, t in (prefix.map { "\($0).\(key)" } ?? key, t.shape) }
        let want = expected.pairs.filter { prefix == nil || $0.0.hasPrefix(prefix! + ".") }
        XCTAssertEqual(actual.count, want.count, "\(name): state_dict length", file: file, line: line)
        for (i, (a, w)) in zip(actual, want).enumerated() where a.0 != w.0 || a.1 != w.1 {
            XCTFail("\(name): entry \(i) is \(a.0) \(a.1), torchvision has \(w.0) \(w.1)", file: file, line: line)
            break
        }
        if prefix == nil {
            XCTAssertEqual(model.parameterCount, expected.parameters, "\(name): parameter count", file: file, line: line)
        }
    }

    /// One eval-mode forward pass of a single image; checks the logits' shape and finiteness.
    func assertForward(_ name: String, _ model: Module, size: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        model.eval()
        let x = RandomState.with { Tensor.uniform([1, 3, size, size], low: -1, high: 1, generator: &$0) }
        let y = try Autograd.withNoGrad { try model(x) }
        XCTAssertEqual(y.shape, [1, 1000], "\(name): logits shape", file: file, line: line)
        let values = y.contiguous().toArray()
        XCTAssertTrue(values.allSatisfy(\.isFinite), "\(name): non-finite logits", file: file, line: line)
        XCTAssertGreaterThan(values.map { abs($0) }.max() ?? 0, 0, "\(name): all-zero logits", file: file, line: line)
    }

    func make(_ name: String) throws -> Module { try ModelZoo.make(name, classCount: 1000, inputChannels: 3) }

    func testFixtureLoaded() {
        XCTAssertEqual(Self.fixture.count, 17, "Fixtures/zoo_keys.json missing or unreadable")
    }

    func testZooListsTorchvisionNames() {
        for name in ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
                     "mobilenet_v2", "googlenet", "inception_v3"] {
            XCTAssertTrue(ModelZoo.names.contains(name), name)
        }
        XCTAssertEqual(ModelZoo.defaultInputShape("inception_v3"), [3, 299, 299])
        XCTAssertEqual(ModelZoo.defaultInputShape("lenet5"), [1, 28, 28])
        XCTAssertEqual(ModelZoo.defaultInputShape("vgg16"), [3, 224, 224])
    }

    /// Also the FLOP count. Reference: torchvision documents AlexNet at 0.71 "GFLOPS", which count
    /// multiply-adds (0.714 GMACs at 224x224); 2 × MACs = 1.43 GFLOP. Within 2%.
    func testAlexNet() throws {
        let m = try make("alexnet")
        assertMatchesTorchvision("alexnet", m)
        try assertForward("alexnet", m, size: 224)
        let flops = try ModelCost.forwardFlops(m, inputShape: [3, 224, 224])
        XCTAssertEqual(Double(flops) / 1e9, 1.43, accuracy: 1.43 * 0.02)
    }

    /// Building a whole VGG (133-144 M parameters, each drawn twice as torchvision does) takes about
    /// 10 seconds per model in a debug build, so the default run checks the convolutional part of the
    /// smallest and largest configurations against torchvision's `features.*` keys and the classifier
    /// keys by construction of the fixture; `TARSIER_SLOW_TESTS=1` checks all eight whole models.
    func testVGGFeatures() throws {
        for name in ["vgg11", "vgg19_bn"] {
            let batchNorm = name.hasSuffix("_bn")
            let c = try XCTUnwrap(VGG.Configuration(rawValue: batchNorm ? String(name.dropLast(3)) : name))
            let features = VGG.makeFeatures(c, batchNorm: batchNorm)
            assertMatchesTorchvision(name, features, prefix: "features")
            let featureParameters = Self.fixture[name]?.pairs.filter { $0.0.hasPrefix("features.") && !$0.0.contains("running")
                && !$0.0.hasSuffix("num_batches_tracked") }.reduce(0) { $0 + $1.1.reduce(1, *) }
            // torchvision's classifier: 25088·4096 + 4096 + 4096·4096 + 4096 + 4096·1000 + 1000.
            XCTAssertEqual(features.parameterCount + 123_642_856, Self.fixture[name]?.parameters)
            XCTAssertEqual(features.parameterCount, featureParameters)
        }
    }

    /// VGG runs forward at 64x64: its AdaptiveAvgPool2d(7) makes the classifier independent of the
    /// input size.
    func testVGGWhole() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TARSIER_SLOW_TESTS"] == "1",
                          "set TARSIER_SLOW_TESTS=1 (about 1.5 minutes in debug)")
        for name in ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"] {
            let m = try make(name)
            assertMatchesTorchvision(name, m)
            if name == "vgg11" || name == "vgg16_bn" { try assertForward(name, m, size: 64) }
        }
    }

    func testMobileNetV2() throws {
        let m = try make("mobilenet_v2")
        assertMatchesTorchvision("mobilenet_v2", m)
        try assertForward("mobilenet_v2", m, size: 224)
        // Depthwise 3x3 convolutions: one input channel per group.
        let depthwise = m.stateDict().first { $0.0 == "features.2.conv.1.0.weight" }?.1
        XCTAssertEqual(depthwise?.shape, [96, 1, 3, 3])
    }

    func testGoogLeNet() throws {
        let m = try make("googlenet")
        assertMatchesTorchvision("googlenet", m)
        try assertForward("googlenet", m, size: 224)
    }

    func testGoogLeNetAuxiliaryHeadsInTraining() throws {
        let m = GoogLeNet(classCount: 10)
        m.train()
        let x = RandomState.with { Tensor.uniform([2, 3, 96, 96], low: -1, high: 1, generator: &$0) }
        let out = try Autograd.withNoGrad { try m.forwardWithAuxiliary(x) }
        XCTAssertEqual(out.logits.shape, [2, 10])
        XCTAssertEqual(out.aux1?.shape, [2, 10])
        XCTAssertEqual(out.aux2?.shape, [2, 10])
        m.eval()
        XCTAssertNil(try Autograd.withNoGrad { try m.forwardWithAuxiliary(x) }.aux1)
    }

    func testInceptionV3() throws {
        let m = try make("inception_v3")
        assertMatchesTorchvision("inception_v3", m)
        try assertForward("inception_v3", m, size: 299)
    }

    /// Also ResNet-18's FLOP count. Reference: torchvision's documented ResNet-18 cost, 1.81 "GFLOPS",
    /// which counts multiply-adds (1.814 GMACs at 224x224); 2 × MACs = 3.64 GFLOP. Within 2%.
    func testResNetKeysAndFlops() throws {
        let resnet18 = try make("resnet18")
        assertMatchesTorchvision("resnet18", resnet18)
        assertMatchesTorchvision("resnet50", try make("resnet50"))
        let flops = try ModelCost.forwardFlops(resnet18, inputShape: [3, 224, 224])
        XCTAssertEqual(Double(flops) / 1e9, 3.64, accuracy: 3.64 * 0.02)
    }

    func testReLU6() throws {
        let x = Tensor(shape: [5], data: [-3, 0, 2.5, 6, 9] as [Float])
        XCTAssertEqual(try ReLU6()(x).toArray(), [0, 0, 2.5, 6, 6])
    }

    /// A hand-computed case: conv 3→8, 3x3, padding 1 on 1x3x8x8 is 8·8·8·27 = 13,824 MACs; a
    /// 512→10 linear layer is 5,120 MACs. Doubled: 27,648 + 10,240.
    func testFlopCountingBackendCountsConvAndMatmul() throws {
        let counter = FlopCountingBackend(wrapping: Device.cpu.backend)
        let device = Device(backend: counter)
        let conv = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1)
        let fc = Linear(inputFeatures: 512, outputFeatures: 10)
        let x = Tensor(zeros: [1, 3, 8, 8], device: device)
        let y = try Autograd.withNoGrad { try conv(x).relu() }
        XCTAssertEqual(counter.flops, 27_648)
        _ = try Autograd.withNoGrad { try fc(y.flattened()) }
        XCTAssertEqual(counter.flops, 27_648 + 10_240)
        counter.reset()
        XCTAssertEqual(counter.flops, 0)
    }
}
