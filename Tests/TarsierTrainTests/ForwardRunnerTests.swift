import XCTest
import Foundation
@testable import Tarsier

final class ForwardRunnerTests: XCTestCase {
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tarsier-forward-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The runner's output and gradients equal a direct eval-mode pass of the same weights.
    func testOutputAndGradientsMatchADirectPass() throws {
        let dir = try temporaryDirectory()
        RandomState.seed(7)
        let model = LeNet.make()
        try model.saveWeights(to: dir + "/w.safetensors")
        var generator = SeededGenerator(seed: 3)
        let x = Tensor.normal([2, 1, 28, 28], generator: &generator)
        try SafeTensors.write(["input": x.safeTensorsEntry()], to: dir + "/x.safetensors")

        let out = try ForwardRunner.run(model: "lenet5", classCount: 10, weights: dir + "/w.safetensors",
                                        inputFile: dir + "/x.safetensors", gradients: true)
        model.eval()
        let xg = x.requiringGrad()
        let y = try model(xg)
        y.sum().backward()
        XCTAssertEqual(try XCTUnwrap(out["output"]).shape, [2, 10])
        XCTAssertEqual(try XCTUnwrap(out["output"]).floats(), y.toArray())
        XCTAssertEqual(try XCTUnwrap(out["input.grad"]).floats(), try XCTUnwrap(xg.grad).toArray())
        for (key, p) in model.namedParameters() {
            XCTAssertEqual(try XCTUnwrap(out["\(key).grad"], key).floats(), try XCTUnwrap(p.grad).toArray(), key)
        }
        XCTAssertEqual(out.count, 2 + model.namedParameters().count)
    }

    func testWrongWeightsAndMissingInputAreNamed() throws {
        let dir = try temporaryDirectory()
        try ResNet9.make().saveWeights(to: dir + "/r9.safetensors")
        try SafeTensors.write(["image": Tensor(zeros: [1, 1, 28, 28]).safeTensorsEntry()], to: dir + "/x.safetensors")
        XCTAssertThrowsError(try ForwardRunner.run(model: "lenet5", classCount: 10, weights: dir + "/r9.safetensors",
                                                   inputFile: dir + "/x.safetensors", gradients: false)) { error in
            XCTAssertTrue(String(describing: error).contains("no tensor named \"input\""), "\(error)")
        }
        try SafeTensors.write(["input": Tensor(zeros: [1, 1, 28, 28]).safeTensorsEntry()], to: dir + "/x.safetensors")
        XCTAssertThrowsError(try ForwardRunner.run(model: "lenet5", classCount: 10, weights: dir + "/r9.safetensors",
                                                   inputFile: dir + "/x.safetensors", gradients: false)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("r9.safetensors") && text.contains("0.weight"), text)
        }
    }
}
