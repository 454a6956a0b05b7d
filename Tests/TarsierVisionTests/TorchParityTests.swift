import Foundation
import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision
import XCTest

/// Parity with PyTorch for every zoo model (issue 5): scripts/make_parity_fixtures.py builds the
/// torchvision model (lenet5 and resnet9s: scripts/make_golden.py's definitions) with random weights
/// and calibrated batch norms, saves its state dict as `.pth` and as safetensors and records PyTorch's
/// logits and gradients; Tarsier loads both files strictly into `ModelZoo.make`'s model and must
/// reproduce them.
///
/// For each model: loaded from the `.pth` file, in eval mode, the logits, the loss, the input gradient
/// and the gradients of the parameters the fixture names; loaded from the safetensors file, the eval
/// logits; for the models in the script's TRAIN_PASS, then a training-mode pass (batch statistics;
/// dropout and the auxiliary heads off): logits, gradients and the updated running statistics.
///
/// Tolerances, as max |Tarsier − PyTorch| over the largest magnitude of PyTorch's tensor:
/// - eval logits: 1e-4 (issue 5's bound), never widened; the loss likewise, relative to Σ|logit·weight|.
/// - gradients: 1e-3. They are long sums accumulated in another order than PyTorch's (oneDNN's
///   blocked reductions, channels-last layout); well-conditioned ones agree to about 1e-5, and a
///   wrong layer, stride, padding or wiring moves them by order 1.
/// - training-mode logits and running statistics: 1e-4.
/// - Each bound but the eval logits' is widened to twice the value's `spread`: how far it moves when
///   the script scales each unit's parameters by 1 + 1e-6·N(0, 1) (which moves the logits 5-10 times
///   further than Float32 rounding does). Gradients of ReLU
///   networks jump where a ReLU input or max-pool choice sits within rounding of its kink, and batch
///   statistics over a few values amplify rounding; there Float32 itself does not determine the value
///   to 1e-3 and PyTorch's own Float32 result differs from its Float64 one by 1e-2 or more. Values
///   moving by over 5% are left out by the script (counted in the log line).
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
    func testVGG13() throws { try checkParity("vgg13", slow: true) }
    func testVGG16() throws { try checkParity("vgg16", slow: true) }
    func testVGG19() throws { try checkParity("vgg19", slow: true) }
    func testVGG11BN() throws { try checkParity("vgg11_bn", slow: true) }
    func testVGG13BN() throws { try checkParity("vgg13_bn", slow: true) }
    func testVGG16BN() throws { try checkParity("vgg16_bn", slow: true) }
    func testVGG19BN() throws { try checkParity("vgg19_bn") }
    func testMobileNetV2() throws { try checkParity("mobilenet_v2") }
    func testGoogLeNet() throws { try checkParity("googlenet") }
    func testInceptionV3() throws { try checkParity("inception_v3") }

    // MARK: The check

    /// - Parameter slow: run only with TARSIER_SLOW_TESTS=1. Every VGG has the same 124M-parameter
    ///   classifier, so each costs 30-60 s in a debug build (two 530 MB files written, read and
    ///   checked, the model initialised); by default only the shallowest without batch norm (vgg11)
    ///   and the deepest with it (vgg19_bn) run, as in ZooTests, the other six with the variable.
    func checkParity(_ name: String, slow: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        if slow {
            try XCTSkipUnless(ProcessInfo.processInfo.environment["TARSIER_SLOW_TESTS"] == "1",
                              "\(name): set TARSIER_SLOW_TESTS=1 (VGG parity takes 30-60 s per model in debug)")
        }
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
        let modes = try list("modes"), gradKeys = try list("grad_keys"), runningKeys = try list("running_keys")
        XCTAssertEqual(shape.count, 4, file: file, line: line)
        let illConditioned = Set(try list("ill_conditioned"))
        var report = Report(name: name, illConditioned: illConditioned.count)

        /// Compares with `base` relative tolerance, widened to twice the value's measured spread.
        func compare(_ actual: Tensor?, _ key: String, base: Double) throws {
            guard let want = expected[key] else {
                if !illConditioned.contains(key) { XCTFail("\(name): the fixture has no \(key)", file: file, line: line) }
                return
            }
            guard let actual else { return XCTFail("\(name): \(key): Tarsier has no value", file: file, line: line) }
            XCTAssertEqual(actual.shape, want.shape, "\(name): \(key) shape", file: file, line: line)
            let spread = try expected["spread." + key].map { try $0.doubles().first ?? 0 } ?? 0
            let tolerance = max(base, 2 * spread)
            let difference = Self.relativeDifference(actual.toDoubleArray(), try want.doubles())
            report.record(key, difference, spread: spread)
            XCTAssertLessThanOrEqual(difference, tolerance, "\(name): \(key) differs from PyTorch by \(difference) "
                + "of its largest magnitude (spread under jitter \(spread))", file: file, line: line)
        }
        func compareGradients(_ model: Module, _ x: Tensor, _ mode: String) throws {
            try compare(x.grad, "\(mode).input.grad", base: Self.gradientTolerance)
            let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
            for key in gradKeys { try compare(parameters[key]?.grad, "\(mode).\(key).grad", base: Self.gradientTolerance) }
        }
        func compareEvalLoss(_ logits: Tensor, _ lossWeights: Tensor) throws {
            // The loss is a sum with cancellation; its scale is the sum of the magnitudes of its terms.
            guard let want = try expected["eval.loss"]?.doubles().first else { return }
            let terms = zip(logits.toDoubleArray(), lossWeights.toDoubleArray()).map { $0 * $1 }
            let scale = terms.reduce(0) { $0 + abs($1) }
            let difference = abs(terms.reduce(0, +) - want) / max(scale, .leastNormalMagnitude)
            report.record("eval.loss", difference, spread: 0)
            XCTAssertLessThanOrEqual(difference, Self.logitTolerance, "\(name): eval.loss", file: file, line: line)
        }

        let input = try Tensor(entry: try XCTUnwrap(expected["input"]))
        let lossWeights = try Tensor(entry: try XCTUnwrap(expected["loss_weights"]))

        // 1. The .pth file, strictly, eval mode: logits (issue 5's 1e-4, not widened), loss, gradients.
        let model = try ModelZoo.make(name, classCount: classCount, inputChannels: shape[1])
        try model.loadTorchWeights(from: folder.appendingPathComponent("\(name).pth").path, strict: true)
        try pass(model, training: false, input: input, lossWeights: lossWeights, gradientKeys: gradKeys) { logits, x in
            try compare(logits, "eval.logits", base: Self.logitTolerance)
            try compareEvalLoss(logits, lossWeights)
            try compareGradients(model, x, "eval")
        }

        // 2. The safetensors file, strictly, into the same model with every tensor first set to NaN:
        // stricter than a fresh model (a tensor the load missed poisons the logits) and it saves a
        // second initialisation, which takes seconds for the 100M-parameter models in debug builds.
        for (_, tensor) in model.stateDict() { tensor.assign(Tensor(repeating: .nan, shape: tensor.shape)) }
        try model.loadWeights(from: folder.appendingPathComponent("\(name).safetensors").path, strict: true)
        model.eval()
        let logits = try Autograd.withNoGrad { try model(input) }
        XCTAssertEqual(logits.shape, [shape[0], classCount], file: file, line: line)
        let safeTensorsDifference = Self.relativeDifference(logits.toDoubleArray(),
                                                            try XCTUnwrap(expected["eval.logits"]).doubles())
        report.record("safetensors eval.logits", safeTensorsDifference, spread: 0)
        XCTAssertLessThanOrEqual(safeTensorsDifference, Self.logitTolerance, "\(name): logits from the safetensors file",
                                 file: file, line: line)

        // 3. Some models with batch norm: a training-mode pass and the running statistics it updates.
        if modes.contains("train") {
            try pass(model, training: true, input: input, lossWeights: lossWeights, gradientKeys: gradKeys) { logits, x in
                try compare(logits, "train.logits", base: Self.logitTolerance)
                try compareGradients(model, x, "train")
            }
            let state = Dictionary(uniqueKeysWithValues: model.stateDict())
            for key in runningKeys {
                if key.hasSuffix("num_batches_tracked") {
                    XCTAssertEqual(state[key]?.toDoubleArray(),
                                   try XCTUnwrap(expected["train." + key]).integers().map(Double.init),
                                   "\(name): \(key) after the training pass", file: file, line: line)
                } else {
                    try compare(state[key], "train." + key, base: Self.logitTolerance)
                }
            }
        }
        report.seconds = (scriptSeconds, Date().timeIntervalSince(started) - scriptSeconds)
        print(report.summary)
    }

    /// Runs `sum(model(input) * lossWeights)` backwards in eval mode or in the fixture's training mode
    /// (batch norm training, dropout off, the top-level module, and so the auxiliary heads, in eval
    /// mode) and hands the logits and the input to `check`.
    func pass(_ model: Module, training: Bool, input: Tensor, lossWeights: Tensor, gradientKeys: [String],
              check: (Tensor, Tensor) throws -> Void) throws {
        model.eval()
        if training {
            for (_, child) in model.namedChildren() { child.train() }
            for (_, m) in model.namedModules() where m is Dropout { m.eval() }
        }
        model.zeroGrad()
        // Gradients that are not compared are not computed (VGG's classifier alone has 100M weights).
        model.freeze()
        model.unfreeze(keys: gradientKeys)
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
        let illConditioned: Int
        var values: [(key: String, difference: Double, spread: Double)] = []
        var seconds = (0.0, 0.0)

        mutating func record(_ key: String, _ difference: Double, spread: Double) {
            values.append((key, difference, spread))
        }

        /// Per group: the largest difference, with its key and spread, and the largest among the
        /// well-conditioned values (spread under 1e-3), which measures Tarsier's own Float32 error.
        var summary: String {
            func worst(_ filter: (String) -> Bool) -> String {
                let group = values.filter { filter($0.key) }
                guard let w = group.max(by: { $0.difference < $1.difference }) else { return "-" }
                let wellConditioned = group.filter { $0.spread < 1e-3 }.map(\.difference).max() ?? .nan
                return String(format: "%.1e (%@, spread %.1e; %.1e where spread < 1e-3)", w.difference, w.key, w.spread,
                              wellConditioned)
            }
            return "parity \(name): eval logits \(worst { $0.hasSuffix("eval.logits") || $0 == "eval.loss" }); "
                + "eval grads \(worst { $0.hasPrefix("eval.") && $0.hasSuffix(".grad") }); "
                + "train logits/stats \(worst { $0.hasPrefix("train.") && !$0.hasSuffix(".grad") }); "
                + "train grads \(worst { $0.hasPrefix("train.") && $0.hasSuffix(".grad") }); "
                + "\(values.count) values compared, \(illConditioned) ill-conditioned left out; "
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
            throw ParityError(description: message + " (TARSIER_REQUIRE_TORCH=1 makes this a failure)")
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
