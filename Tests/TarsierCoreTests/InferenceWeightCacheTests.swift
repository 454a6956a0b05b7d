import XCTest
@testable import TarsierCore
import TarsierSupport

/// Inference convolutions keep a parameter's reordered weight between calls; every in-place
/// write must invalidate it.
final class InferenceWeightCacheTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return ValueDomain.symmetric.values(shape.reduce(1, *), &generator).map { Float($0) }
    }

    /// The Float64 reference result of the same convolution.
    private func reference(_ x: Tensor, _ w: Tensor) -> [Double] {
        let rx = Tensor.ref(x.shape, x.toArray().map(Double.init))
        let rw = Tensor.ref(w.shape, w.toArray().map(Double.init))
        return rx.conv2d(weight: rw, padding: (1, 1)).toDoubleArray()
    }

    private func assertMatchesReference(_ x: Tensor, _ w: Tensor, _ what: String,
                                        file: StaticString = #filePath, line: UInt = #line) {
        let actual = Autograd.withNoGrad { x.conv2d(weight: w, padding: (1, 1)) }.toDoubleArray()
        let expected = reference(x, w)
        let scale = max(maxAbs(expected), 1e-12)
        let error = maxAbsDifference(actual, expected)
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, what, file: file, line: line)
    }

    /// Shapes on both sides of the Winograd threshold (batch 1 at 16x16 and 6x6, 32 channels).
    func testInPlaceWritesInvalidateTheCachedWeight() {
        for (size, seed) in [(16, UInt64(1)), (6, 2)] {
            let x = Tensor(shape: [1, 32, size, size], data: random([1, 32, size, size], seed: seed), device: .cpu)
            let w = Tensor(shape: [32, 32, 3, 3], data: random([32, 32, 3, 3], seed: seed + 10),
                           device: .cpu).requiringGrad()
            assertMatchesReference(x, w, "first call, \(size)px")
            assertMatchesReference(x, w, "cached, \(size)px")
            w.assign(Tensor(shape: w.shape, data: random(w.shape, seed: seed + 20), device: .cpu))
            assertMatchesReference(x, w, "after assign, \(size)px")
            w.withMutableFloats { values in
                for i in values.indices { values[i] *= -0.5 }
            }
            assertMatchesReference(x, w, "after withMutableFloats, \(size)px")
            // A second parameter of the same shape shares the plan but not the cached copy.
            let other = Tensor(shape: w.shape, data: random(w.shape, seed: seed + 30), device: .cpu)
                .requiringGrad()
            assertMatchesReference(x, other, "second weight, \(size)px")
            assertMatchesReference(x, w, "first weight again, \(size)px")
        }
    }

    /// With recording on (training) the cache is not used, and both paths agree.
    func testRecordingAndInferenceAgree() {
        let x = Tensor(shape: [2, 16, 12, 12], data: random([2, 16, 12, 12], seed: 5), device: .cpu)
        let w = Tensor(shape: [16, 16, 3, 3], data: random([16, 16, 3, 3], seed: 6), device: .cpu)
            .requiringGrad()
        let training = x.conv2d(weight: w, padding: (1, 1)).toDoubleArray()
        let inference = Autograd.withNoGrad { x.conv2d(weight: w, padding: (1, 1)) }.toDoubleArray()
        XCTAssertLessThanOrEqual(maxAbsDifference(training, inference), 1e-4 * maxAbs(training))
    }
}
