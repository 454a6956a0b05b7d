import Foundation
import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision
import XCTest

/// Parity with PyTorch for every zoo model: scripts/make_parity_fixtures.py builds the torchvision
/// model (lenet5 and resnet9s: scripts/make_golden.py's definitions) with random weights, saves its
/// state dict as `.pth` and as safetensors and records logits and gradients; Tarsier loads both files
/// strictly into `ModelZoo.make`'s model and must reproduce them.
///
/// For each model: the `.pth` model in eval mode gives the logits, the input gradient and the
/// gradients of the parameters the fixture names; a fresh model loaded from the safetensors file
/// gives the same eval logits, and then, with batch norm in training mode (dropout off, auxiliary
/// heads off; see the script), the logits, gradients and updated running statistics.
///
/// Tolerances, relative to the largest magnitude of the expected tensor (the fixture's values are
/// computed in float64 from the stored float32 weights, so they are exact to float32 rounding):
/// - logits and running statistics: 1e-4 (issue 5's bound);
/// - gradients: 1e-3. A gradient is a long sum of products accumulated in another order than
///   PyTorch's (oneDNN's blocked reductions, channels-last layout); PyTorch's own float32 result
///   differs from the float64 one by up to a few 1e-5 on the deepest models here (printed beside
///   Tarsier's as `torch32`), so a bound 10-30× above that still flags any real error in a layer
///   (those are of order 1), while not failing on summation order.
///
/// Needs /usr/bin/python3 with torch and torchvision (Debian's python3-torch, python3-torchvision).
/// Without them the tests skip, unless TARSIER_REQUIRE_TORCH=1, where they fail.
final class TorchParityTests: XCTestCase {
    static let logitTolerance = 1e-4
    static let gradientTolerance = 1e-3
    static let python = "/usr/bin/python3"

    /// The models with a parity test below; `testEveryZooModelIsCovered` keeps it equal to the zoo.
    static let covered = ["resnet9s", "lenet5", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                          "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
                          "mobilenet_v2", "googlenet", "inception_v3"]

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    override func setUp() {
        Device.default = .cpu
        RandomState.seed(0)
    }

    func testEveryZooModelIsCovered() {
        XCTAssertEqual(Set(Self.covered), Set(ModelZoo.names))
        XCTAssertEqual(Self.covered.count, ModelZoo.names.count)
    }

    func testResNet9s() throws { try checkParity("resnet9s") }
    func testLeNet5() throws { try checkParity("lenet5") }
    func testResNet18() throws { try checkParity("resnet18") }
    func testResNet34() throws { try checkParity("resnet34") }
    func testResNet50() throws { try checkParity("resnet50") }
    func testResNet101() throws { try checkParity("resnet101") }
    func testResNet152() throws { try checkParity("resnet152") }
    func testAlexNet() throws { try checkParity("alexnet") }
    func testVGG11() throws { try checkParity("vgg11") }
    func testVGG13() throws { try checkParity("vgg13") }
    func testVGG16() throws { try checkParity("vgg16") }
    func testVGG19() throws { try checkParity("vgg19") }
    func testVGG11BN() throws { try checkParity("vgg11_bn") }
    func testVGG13BN() throws { try checkParity("vgg13_bn") }
    func testVGG16BN() throws { try checkParity("vgg16_bn") }
    func testVGG19BN() throws { try checkParity("vgg19_bn") }
    func testMobileNetV2() throws { try checkParity("mobilenet_v2") }
    func testGoogLeNet() throws { try checkParity("googlenet") }
    func testInceptionV3() throws { try checkParity("inception_v3") }

    // MARK: The check

    func checkParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try Self.requireTorch()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tarsier-parity-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let started = Date()
        try Self.runScript(model: name, output: folder)
        let scriptSeconds = Date().timeIntervalSince(started)

        let fixture = try SafeTensors.read(contentsOf: folder.appendingPathComponent("\(name)_expected.safetensors").path)
        let expected = fixture.tensors
        func meta(_ key: String) throws -> String { try XCTUnwrap(fixture.metadata[key], "metadata \(key)") }
        func list(_ key: String) throws -> [String] { try meta(key).split(separator: ",").map(String.init) }
        let shape = try list("input_shape").compactMap { Int($0) }
        let classCount = try XCTUnwrap(Int(try meta("class_count")))
        let gradKeys = try list("grad_keys"), runningKeys = try list("running_keys")
        XCTAssertEqual(shape.count, 4, file: file, line: line)
        var report = Report(name: name)

        func compare(_ actual: Tensor?, _ key: String, tolerance: Double) throws {
            let want = try XCTUnwrap(expected[key], "\(name): fixture has no \(key)", file: file, line: line)
            guard let actual else { return XCTFail("\(name): \(key): Tarsier has no value", file: file, line: line) }
            XCTAssertEqual(actual.shape, want.shape, "\(name): \(key) shape", file: file, line: line)
            let difference = Self.relativeDifference(actual.toDoubleArray(), try want.doubles())
            report.record(key, difference, torch: try expected["torch32." + key].map { Self.relativeDifference(
                try $0.doubles(), try want.doubles()) })
            XCTAssertLessThanOrEqual(difference, tolerance, "\(name): \(key) differs from PyTorch by \(difference) "
                + "of its largest magnitude", file: file, line: line)
        }

        let input = try Tensor(entry: try XCTUnwrap(expected["input"]))
        let lossWeights = try Tensor(entry: try XCTUnwrap(expected["loss_weights"]))

        // 1. The .pth file, eval mode: logits and gradients.
        let fromTorch = try ModelZoo.make(name, classCount: classCount, inputChannels: shape[1])
        try fromTorch.loadTorchWeights(from: folder.appendingPathComponent("\(name).pth").path, strict: true)
        try pass(fromTorch, training: false, input: input, lossWeights: lossWeights) { logits, x in
            try compare(logits, "eval.logits", tolerance: Self.logitTolerance)
            try compare(x.grad, "eval.input.grad", tolerance: Self.gradientTolerance)
            let parameters = Dictionary(uniqueKeysWithValues: fromTorch.namedParameters())
            for key in gradKeys { try compare(parameters[key]?.grad, "eval.\(key).grad", tolerance: Self.gradientTolerance) }
        }

        // 2. The safetensors file in a fresh model: eval logits, then a training-mode pass.
        let fromSafeTensors = try ModelZoo.make(name, classCount: classCount, inputChannels: shape[1])
        try fromSafeTensors.loadWeights(from: folder.appendingPathComponent("\(name).safetensors").path, strict: true)
        fromSafeTensors.eval()
        let logits = try Autograd.withNoGrad { try fromSafeTensors(input) }
        XCTAssertEqual(logits.shape, [shape[0], classCount], file: file, line: line)
        let safeTensorsDifference = Self.relativeDifference(logits.toDoubleArray(), try XCTUnwrap(expected["eval.logits"]).doubles())
        report.record("safetensors eval.logits", safeTensorsDifference, torch: nil)
        XCTAssertLessThanOrEqual(safeTensorsDifference, Self.logitTolerance, "\(name): safetensors logits", file: file, line: line)

        try pass(fromSafeTensors, training: true, input: input, lossWeights: lossWeights) { logits, x in
            try compare(logits, "train.logits", tolerance: Self.logitTolerance)
            try compare(x.grad, "train.input.grad", tolerance: Self.gradientTolerance)
            let parameters = Dictionary(uniqueKeysWithValues: fromSafeTensors.namedParameters())
            for key in gradKeys { try compare(parameters[key]?.grad, "train.\(key).grad", tolerance: Self.gradientTolerance) }
        }
        let state = Dictionary(uniqueKeysWithValues: fromSafeTensors.stateDict())
        for key in runningKeys {
            if key.hasSuffix("num_batches_tracked") {
                XCTAssertEqual(state[key]?.toDoubleArray(), try XCTUnwrap(expected["train." + key]).integers().map(Double.init),
                               "\(name): \(key) after the training pass", file: file, line: line)
            } else {
                try compare(state[key], "train." + key, tolerance: Self.logitTolerance)
            }
        }
        report.seconds = (scriptSeconds, Date().timeIntervalSince(started) - scriptSeconds)
        print(report.summary)
    }

    /// Runs `sum(model(input) * lossWeights)` backwards in eval mode or in the fixture's training mode
    /// (batch norm training, dropout off, the top-level module, and so the auxiliary heads, in eval
    /// mode) and hands the logits and the input to `check`.
    func pass(_ model: Module, training: Bool, input: Tensor, lossWeights: Tensor,
              check: (Tensor, Tensor) throws -> Void) throws {
        model.eval()
        if training {
            for (_, child) in model.namedChildren() { child.train() }
            for (_, m) in model.namedModules() where m is Dropout { m.eval() }
        }
        model.zeroGrad()
        let x = input.requiringGrad()
        let logits = try model(x)
        (logits * lossWeights).sum().backward()
        try check(logits, x)
    }

    /// max |a − b| / max |b| (0 when both are all zero).
    static func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        let scale = b.reduce(0) { max($0, abs($1)) }
        let difference = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        return scale > 0 ? difference / scale : difference
    }

    /// The largest differences of one model, for the log.
    struct Report {
        let name: String
        var logits: [(String, Double)] = [], gradients: [(String, Double)] = []
        var torchLogits = 0.0, torchGradients = 0.0
        var seconds = (0.0, 0.0)

        mutating func record(_ key: String, _ difference: Double, torch: Double?) {
            let isGradient = key.hasSuffix(".grad")
            if isGradient { gradients.append((key, difference)) } else { logits.append((key, difference)) }
            if let torch {
                if isGradient { torchGradients = max(torchGradients, torch) } else { torchLogits = max(torchLogits, torch) }
            }
        }

        var summary: String {
            func worst(_ list: [(String, Double)]) -> String {
                guard let w = list.max(by: { $0.1 < $1.1 }) else { return "-" }
                return String(format: "%.2e (%@)", w.1, w.0)
            }
            return "parity \(name): logits/stats \(worst(logits)) [torch32 \(String(format: "%.2e", torchLogits))]; "
                + "gradients \(worst(gradients)) [torch32 \(String(format: "%.2e", torchGradients))]; "
                + String(format: "script %.1f s, Tarsier %.1f s", seconds.0, seconds.1)
        }
    }

    // MARK: Python

    /// Whether /usr/bin/python3 can import torch and torchvision (checked once).
    static let torchAvailable: Bool = {
        (try? run(["-c", "import torch, torchvision"]))?.status == 0
    }()

    /// Skips without PyTorch, or fails when TARSIER_REQUIRE_TORCH=1.
    static func requireTorch() throws {
        if torchAvailable { return }
        let message = "\(python) cannot import torch and torchvision; install python3-torch and python3-torchvision "
            + "(apt-get install python3-torch python3-torchvision)"
        if ProcessInfo.processInfo.environment["TARSIER_REQUIRE_TORCH"] == "1" {
            XCTFail(message + " (TARSIER_REQUIRE_TORCH=1)")
            throw ParityError(description: message)
        }
        throw XCTSkip(message)
    }

    static func runScript(model: String, output: URL) throws {
        let script = repositoryRoot.appendingPathComponent("scripts/make_parity_fixtures.py").path
        let result = try run([script, "--model", model, "--out", output.path])
        guard result.status == 0 else {
            throw ParityError(description: "make_parity_fixtures.py --model \(model) exited with \(result.status): "
                + String(result.errors.suffix(2000)))
        }
    }

    /// Runs python3 with `arguments`; returns the exit status and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read before waiting, so a full pipe cannot block the child.
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    struct ParityError: Error, CustomStringConvertible {
        let description: String
    }
}
