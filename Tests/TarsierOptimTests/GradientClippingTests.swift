import TarsierCore
import XCTest

@testable import TarsierOptim

final class GradientClippingTests: XCTestCase {
    func leaf(_ values: [Double]) -> Tensor { Tensor(shape: [values.count], data: values).requiringGrad() }

    func setGradient(_ p: Tensor, _ values: [Double]) {
        p.gradNode?.zeroGrad()
        p.gradNode?.accumulate(Tensor(shape: [values.count], data: values))
    }

    func testClipsToTheMaximumNorm() {
        let a = leaf([0, 0]), b = leaf([0, 0, 0]), none = leaf([5])
        setGradient(a, [3, 4])
        setGradient(b, [0, 0, 12])
        let total = clipGradientNorm([a, none, b], maxNorm: 6.5)
        XCTAssertEqual(total, 13, accuracy: 1e-12)
        let c = 6.5 / (13 + 1e-6)
        assertClose(a.grad?.toDoubleArray() ?? [], [3 * c, 4 * c], tolerance: 1e-15, "a")
        assertClose(b.grad?.toDoubleArray() ?? [], [0, 0, 12 * c], tolerance: 1e-15, "b")
        XCTAssertNil(none.grad)
    }

    func testLeavesSmallGradientsAlone() throws {
        let a = leaf([0, 0])
        setGradient(a, [3, 4])
        XCTAssertEqual(try clipGradientNorm([a], maxNorm: 100, errorIfNonfinite: true), 5, accuracy: 1e-12)
        XCTAssertEqual(a.grad?.toDoubleArray(), [3, 4])
    }

    func testFloat32GradientsAccumulateInDouble() {
        let p = Tensor(shape: [1000], data: [Float](repeating: 0, count: 1000)).requiringGrad()
        p.gradNode?.accumulate(Tensor(shape: [1000], data: [Float](repeating: 0.1, count: 1000)))
        let total = clipGradientNorm([p], maxNorm: 1)
        XCTAssertEqual(total, (1000 * Double(Float(0.1)) * Double(Float(0.1))).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(p.grad?.dtype, .float32)
    }

    /// The backward pass of a + b hands one gradient tensor to both leaves; each must be scaled once.
    func testSharedGradientStorageIsScaledOnce() {
        let a = leaf([0, 0]), b = leaf([0, 0])
        let seed = Tensor(shape: [2], data: [3.0, 4.0])
        (a + b).backward(gradient: seed)
        clipGradientNorm([a, b], maxNorm: 1)
        let c = 1 / ((50 as Double).squareRoot() + 1e-6)
        assertClose(a.grad?.toDoubleArray() ?? [], [3 * c, 4 * c], tolerance: 1e-15, "a")
        assertClose(b.grad?.toDoubleArray() ?? [], [3 * c, 4 * c], tolerance: 1e-15, "b")
    }

    func testNonfiniteNormThrowsNamingTheParameter() {
        let a = leaf([0, 0]), b = leaf([0, 0])
        setGradient(a, [1, 1])
        setGradient(b, [1, .infinity])
        XCTAssertThrowsError(try clipGradientNorm([a, b], maxNorm: 1, errorIfNonfinite: true)) { error in
            guard let error = error as? NonfiniteGradientNormError else { return XCTFail("wrong error \(error)") }
            XCTAssertEqual(error.parameterIndex, 1)
            XCTAssertTrue(error.description.contains("parameter 1"))
        }
        XCTAssertEqual(a.grad?.toDoubleArray(), [1, 1], "gradients untouched after the error")
        // Without the check PyTorch's behaviour follows: the coefficient is 0, so inf·0 = NaN.
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 1), .infinity)
        XCTAssertEqual(a.grad?.toDoubleArray(), [0, 0])
        XCTAssertTrue(b.grad?.toDoubleArray()[1].isNaN ?? false)
    }
}
