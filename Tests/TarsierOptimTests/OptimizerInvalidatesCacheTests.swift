import TarsierCore
import TarsierOptim
import TarsierSupport
import XCTest

/// Inference convolutions keep reordered weights keyed by the storage version; an optimiser
/// step changes the weights in place and must be seen by the next inference call.
final class OptimizerInvalidatesCacheTests: XCTestCase {
    func testInferenceAfterAStepUsesTheNewWeights() {
        var generator = SeededGenerator(seed: 3)
        let x = Tensor.normal([1, 32, 16, 16], device: .cpu, generator: &generator)
        let w = Tensor.normal([32, 32, 3, 3], device: .cpu, generator: &generator).requiringGrad()
        let optimizer = SGD(parameters: [w], learningRate: 0.5)
        let before = Autograd.withNoGrad { x.conv2d(weight: w, padding: (1, 1)) }.toArray()
        // A fresh, never-cached copy of the weights gives the expected result after each step.
        func fresh() -> [Float] {
            let copy = Tensor(shape: w.shape, data: w.toArray(), device: .cpu)
            return Autograd.withNoGrad { x.conv2d(weight: copy, padding: (1, 1)) }.toArray()
        }
        for step in 0..<2 {
            optimizer.zeroGrad()
            x.conv2d(weight: w, padding: (1, 1)).sum().backward()
            optimizer.step()
            let after = Autograd.withNoGrad { x.conv2d(weight: w, padding: (1, 1)) }.toArray()
            let expected = fresh()
            let scale = expected.map(abs).max() ?? 1
            let error = zip(after, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, "step \(step)")
            XCTAssertGreaterThan(zip(after, before).map { abs($0 - $1) }.max() ?? 0, 0.01 * scale)
        }
    }
}
