import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision
import XCTest

/// Whole-model parity with PyTorch (LeNet-5 and the ResNet-9-style net) and weight-loading errors.
final class ModelParityTests: XCTestCase {

    /// The fixture's `state_dict` entries (without the input, output and gradient keys).
    func stateEntries(_ f: NNFixture) -> [String: SafeTensorsEntry] {
        f.tensors.filter { $0.key != "input" && $0.key != "output" && !$0.key.hasSuffix(".grad") }
    }

    /// Loads the fixture weights strictly, runs `sum(model(input))` backwards in eval mode and
    /// compares the output, the input gradient and (where the fixture has them) parameter gradients.
    /// Returns how many parameter gradients were compared.
    @discardableResult
    func checkParity(_ f: NNFixture, _ model: Module, _ p: Precision, tolerance: Double,
                     file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let report = try model.loadStateDict(stateEntries(f), strict: true)
        XCTAssertEqual(report.loaded.count, stateEntries(f).count, "every entry loads", file: file, line: line)
        // The loaded values are the file's (to the model's precision).
        for (key, t) in model.stateDict() {
            assertClose(t, try f.doubles(key), shape: try f.shape(key), tolerance: p.dtype == .float32 ? 1e-7 : 0,
                        "loaded \(key) [\(p)]", file: file, line: line)
        }
        model.eval()
        let x = try f.tensor("input", p).requiringGrad()
        let y = try model(x)
        XCTAssertEqual(y.dtype, p.dtype, file: file, line: line)
        try f.check(y, "output", p, tolerance: tolerance, file: file, line: line)
        y.sum().backward()
        try f.check(x.grad, "input.grad", p, tolerance: tolerance, file: file, line: line)
        var compared = 0
        for (key, param) in model.namedParameters() where f.has(key + ".grad") {
            try f.check(param.grad, key + ".grad", p, tolerance: tolerance, file: file, line: line)
            compared += 1
        }
        // Eval mode must leave the running statistics alone.
        for (key, t) in model.stateDict() where key.hasSuffix("running_mean") || key.hasSuffix("num_batches_tracked") {
            assertClose(t, try f.doubles(key), shape: try f.shape(key), tolerance: p.dtype == .float32 ? 1e-7 : 0,
                        "\(key) after an eval forward [\(p)]", file: file, line: line)
        }
        return compared
    }

    func testLeNetFloat32CPUMatchesPyTorch() throws {
        let f = try NNFixture.load("lenet5")
        XCTAssertEqual(try f.string("mode"), "eval")
        XCTAssertEqual(try f.intList("input_shape"), [2, 1, 28, 28])
        let compared = try checkParity(f, LeNet.make(), .cpu32, tolerance: 1e-4)
        XCTAssertEqual(compared, 10, "every LeNet parameter has a golden gradient")
    }

    func testLeNetFloat64ReferenceMatchesPyTorch() throws {
        let f = try NNFixture.load("lenet5")
        let model = LeNet.make()
        retarget(model, to: .reference64)
        let compared = try checkParity(f, model, .reference64, tolerance: 1e-9)
        XCTAssertEqual(compared, 10)
    }

    func testResNet9Float32CPUMatchesPyTorch() throws {
        let f = try NNFixture.load("resnet9s")
        XCTAssertEqual(try f.string("dtype"), "F32")
        XCTAssertEqual(try f.double("bn_eps"), 1e-5)
        let model = ResNet9.make(widths: try f.intList("widths"))
        let compared = try checkParity(f, model, .cpu32, tolerance: 1e-4)
        if try f.bool("param_grads") { XCTAssertEqual(compared, model.namedParameters().count) }
    }

    /// The golden was computed in float64 from the stored float32 values, so the float64 reference
    /// backend agrees to the float32 rounding of the golden (~6e-8 relative).
    func testResNet9Float64ReferenceMatchesPyTorch() throws {
        let f = try NNFixture.load("resnet9s")
        let model = ResNet9.make(widths: try f.intList("widths"))
        retarget(model, to: .reference64)
        if !(try f.bool("param_grads")) { model.freeze() }  // skips the weight-gradient convolutions
        try checkParity(f, model, .reference64, tolerance: 1e-6)
    }

    /// The resnet9s fixture is kept without parameter gradients; check those of the Float32 CPU
    /// model against the Float64 reference backend instead (itself checked against PyTorch above).
    func testResNet9ParameterGradientsOnCPUAgreeWithFloat64Reference() throws {
        let f = try NNFixture.load("resnet9s")
        let widths = try f.intList("widths")
        var grads: [[String: Tensor]] = []
        for p in Precision.all {
            let model = ResNet9.make(widths: widths)
            retarget(model, to: p)
            try model.loadStateDict(stateEntries(f), strict: true)
            model.eval()
            try model(try f.tensor("input", p)).sum().backward()
            var byKey: [String: Tensor] = [:]
            for (key, param) in model.namedParameters() { byKey[key] = param.grad }
            XCTAssertEqual(byKey.count, model.namedParameters().count, "every parameter has a gradient [\(p)]")
            grads.append(byKey)
        }
        let (reference, cpu) = (grads[0], grads[1])
        for key in reference.keys.sorted() {
            guard let r = reference[key] else { continue }
            assertClose(cpu[key], r.toDoubleArray(), shape: r.shape, tolerance: 1e-4,
                        "resnet9s \(key).grad [float32 on cpu vs float64 reference]")
        }
    }

    // MARK: loadStateDict errors

    func lenetEntries() throws -> [String: SafeTensorsEntry] { stateEntries(try NNFixture.load("lenet5")) }

    func testLoadStateDictMissingKey() throws {
        let model = LeNet.make()
        let before = model.stateDict().map { $0.1.toDoubleArray() }
        var entries = try lenetEntries()
        entries["3.bias"] = nil
        let e = expectError(WeightLoadError.self, "missing key") { try model.loadStateDict(entries, strict: true) }
        XCTAssertEqual(e?.missing, ["3.bias"])
        XCTAssertEqual(e?.unexpected, [])
        XCTAssert(e?.description.contains("3.bias") ?? false, e?.description ?? "")
        XCTAssert(e?.description.contains("missing") ?? false, e?.description ?? "")
        XCTAssertEqual(model.stateDict().map { $0.1.toDoubleArray() }, before, "a failed strict load changes nothing")

        // Non-strict: the rest loads and the report names the missing key.
        let report = try model.loadStateDict(entries, strict: false)
        XCTAssertEqual(report.missing, ["3.bias"])
        XCTAssertEqual(report.loaded.count, 9)
        XCTAssertEqual(model.stateDict()[0].1.toDoubleArray().map { Float($0) },
                       try NNFixture.load("lenet5").doubles("0.weight").map { Float($0) })
    }

    func testLoadStateDictUnexpectedKey() throws {
        let model = LeNet.make()
        var entries = try lenetEntries()
        entries["12.weight"] = SafeTensorsEntry(floats: [1, 2, 3], shape: [3])
        let e = expectError(WeightLoadError.self, "unexpected key") { try model.loadStateDict(entries, strict: true) }
        XCTAssertEqual(e?.unexpected, ["12.weight"])
        XCTAssertEqual(e?.missing, [])
        XCTAssert(e?.description.contains("12.weight") ?? false, e?.description ?? "")
        XCTAssert(e?.description.contains("unexpected") ?? false, e?.description ?? "")
        let report = try model.loadStateDict(entries, strict: false)
        XCTAssertEqual(report.unexpected, ["12.weight"])
    }

    func testLoadStateDictShapeMismatch() throws {
        for strict in [true, false] {
            let model = LeNet.make()
            let before = model.stateDict().map { $0.1.toDoubleArray() }
            var entries = try lenetEntries()
            entries["7.weight"] = SafeTensorsEntry(floats: [Float](repeating: 0, count: 120 * 399), shape: [120, 399])
            let e = expectError(WeightLoadError.self, "shape mismatch (strict \(strict))") {
                try model.loadStateDict(entries, strict: strict)
            }
            let d = e?.description ?? ""
            XCTAssert(d.contains("7.weight"), "names the key: \(d)")
            XCTAssert(d.contains("[120, 400]"), "names the model shape: \(d)")
            XCTAssert(d.contains("[120, 399]"), "names the file shape: \(d)")
            XCTAssertEqual(e?.mismatched.first?.0, "7.weight")
            XCTAssertEqual(model.stateDict().map { $0.1.toDoubleArray() }, before, "a failed load changes nothing")
        }
        // Same element count, different shape ([400, 120] vs [120, 400]) is still a mismatch.
        let model = LeNet.make()
        var entries = try lenetEntries()
        entries["7.weight"] = SafeTensorsEntry(floats: [Float](repeating: 0, count: 120 * 400), shape: [400, 120])
        let e = expectError(WeightLoadError.self, "transposed shape") { try model.loadStateDict(entries, strict: true) }
        XCTAssert(e?.description.contains("[400, 120]") ?? false, e?.description ?? "")
    }

    /// Saving and re-loading through a safetensors file keeps every value and key.
    func testSaveAndLoadWeightsRoundTrip() throws {
        let f = try NNFixture.load("resnet9s")
        let a = ResNet9.make()
        try a.loadStateDict(stateEntries(f), strict: true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tarsier-nntest-\(ProcessInfo.processInfo.processIdentifier).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try a.saveWeights(to: path)
        let (written, _) = try SafeTensors.read(contentsOf: path)
        XCTAssertEqual(Set(written.keys), Set(stateEntries(f).keys))
        XCTAssertEqual(written["3.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(try written["3.num_batches_tracked"]?.integers(), [100])
        let b = ResNet9.make()
        try b.loadWeights(from: path)
        for ((ka, ta), (kb, tb)) in zip(a.stateDict(), b.stateDict()) {
            XCTAssertEqual(ka, kb)
            XCTAssertEqual(ta.toDoubleArray(), tb.toDoubleArray(), ka)
        }
    }
}
