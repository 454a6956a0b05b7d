import Foundation
import XCTest
@testable import TarsierCore

/// Behaviour of the autodiff tape (on the reference device, Float64, exact small-integer values).
final class AutogradTests: XCTestCase {
    private let xValues: [Double] = [1, -2, 3, 0.5, -1.5, 2.5]

    private func leaf(_ shape: [Int] = [2, 3], _ values: [Double]? = nil) -> Tensor {
        Tensor.ref(shape, values ?? xValues).requiringGrad()
    }

    /// Global max pooling sends a window's gradient to its first maximum, as PyTorch's
    /// adaptive_max_pool2d does (zeros after a ReLU tie often), on both backends.
    func testGlobalMaxPoolRoutesTiesToFirstMaximum() {
        for device in [Device.cpu, .reference] {
            let x = Tensor(shape: [1, 2, 2, 2], data: [Float]([0, 0, 0, 0, 1, 3, 3, 2])).to(device).requiringGrad()
            x.adaptiveMaxPool2d((1, 1)).sum().backward()
            XCTAssertEqual(x.grad?.contiguous().toArray(), [1, 0, 0, 0, 0, 1, 0, 0], "\(device)")
        }
    }

    func testGradientsAccumulateAcrossBackwardCalls() throws {
        let x = leaf()
        (x * x).sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues.map { 2 * $0 }, "first backward")
        (x * 3).sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues.map { 2 * $0 + 3 }, "second backward adds")
        // The same graph can be replayed; it adds again.
        let y = (x * x).sum()
        y.backward()
        y.backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues.map { 6 * $0 + 3 }, "replayed graph adds")
        x.gradNode?.zeroGrad()
        XCTAssertNil(x.grad)
        (x * 2).sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [Double](repeating: 2, count: 6), "after zeroGrad")
    }

    func testAccumulationDoesNotMutateTheFirstGradient() throws {
        let x = leaf()
        (x * 2).sum().backward()
        let first = try XCTUnwrap(x.grad)
        (x * 5).sum().backward()
        assertClose(first.toDoubleArray(), [Double](repeating: 2, count: 6), "a gradient read earlier stays as it was")
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [Double](repeating: 7, count: 6), "accumulated")
    }

    func testNoGradScopeRecordsNothing() throws {
        let x = leaf()
        XCTAssertTrue(Autograd.isRecording)
        let y = Autograd.withNoGrad { () -> Tensor in
            XCTAssertFalse(Autograd.isRecording)
            let inner = Autograd.withNoGrad { x * 2 }
            XCTAssertFalse(Autograd.isRecording, "nested scope restores the outer (off) state")
            XCTAssertNil(inner.gradNode)
            return (x * x + x.exp()).sum()
        }
        XCTAssertTrue(Autograd.isRecording, "recording is back on after the scope")
        XCTAssertNil(y.gradNode)
        XCTAssertFalse(y.requiresGrad)
        // Max pooling keeps no backward state without recording, and records nothing.
        let image = Tensor.ref([1, 1, 2, 2], [1, 2, 3, 4]).requiringGrad()
        XCTAssertNil(Autograd.withNoGrad { image.maxPool2d(kernel: (2, 2)) }.gradNode)
        XCTAssertNotNil(image.maxPool2d(kernel: (2, 2)).gradNode)
        // The value is still computed.
        assertClose([y.item()], [xValues.reduce(0) { $0 + $1 * $1 + Foundation.exp($1) }], atol: 1e-12, "value")
        XCTAssertNil(x.grad)
    }

    func testNoGradScopeRestoresRecordingWhenItThrows() {
        struct Failure: Error {}
        XCTAssertThrowsError(try Autograd.withNoGrad { throw Failure() })
        XCTAssertTrue(Autograd.isRecording)
    }

    func testNoGradIsPerThread() {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var otherThreadRecording = false
        Autograd.withNoGrad {
            let thread = Thread {
                otherThreadRecording = Autograd.isRecording
                done.signal()
            }
            thread.start()
            done.wait()
        }
        XCTAssertTrue(otherThreadRecording, "a no-grad scope on one thread must not switch off another thread")
    }

    func testFrozenLeafGetsNoGradient() throws {
        let x = leaf()
        let w = leaf([2, 3], [2, 2, 2, 2, 2, 2])
        w.gradNode?.requiresGrad = false
        XCTAssertFalse(w.requiresGrad)
        (x * w).sum().backward()
        XCTAssertNil(w.grad, "frozen leaf")
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [Double](repeating: 2, count: 6), "trainable leaf")
        // An op whose only input is frozen records nothing.
        XCTAssertNil((w * 3).gradNode)
        // Unfreezing resumes accumulation.
        w.gradNode?.requiresGrad = true
        (x * w).sum().backward()
        assertClose(try XCTUnwrap(w.grad).toDoubleArray(), xValues, "unfrozen leaf")
    }

    func testFrozenConvolutionWeightStillPassesInputGradient() throws {
        let x = Tensor.ref([1, 1, 3, 3], (0..<9).map(Double.init)).requiringGrad()
        let w = Tensor.ref([1, 1, 2, 2], [1, 0, 0, -1]).requiringGrad()
        let b = Tensor.ref([1], [0.5]).requiringGrad()
        w.gradNode?.requiresGrad = false
        x.conv2d(weight: w, bias: b).sum().backward()
        XCTAssertNil(w.grad)
        assertClose(try XCTUnwrap(b.grad).toDoubleArray(), [4], "bias gradient = number of outputs")
        // Each input pixel receives the sum of the kernel taps that touch it.
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [1, 1, 0, 1, 0, -1, 0, -1, -1], "input gradient")
    }

    func testValueUsedTwiceAccumulates() throws {
        let x = leaf()
        (x * x + x).sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues.map { 2 * $0 + 1 }, "x·x + x")

        // A diamond: a = 2x feeds two branches that meet again.
        let z = leaf()
        let a = z * 2
        (a.exp() + a * a).sum().backward()
        assertClose(try XCTUnwrap(z.grad).toDoubleArray(), xValues.map { 2 * Foundation.exp(2 * $0) + 8 * $0 },
                    atol: 1e-9, "diamond")

        // The same leaf on both sides of a matmul.
        let m = Tensor.ref([2, 2], [1, 2, 3, 4]).requiringGrad()
        m.matmul(m).sum().backward()
        // d/dM sum(M·M) = 1·Mᵀ + Mᵀ·1
        assertClose(try XCTUnwrap(m.grad).toDoubleArray(), [7, 11, 9, 13], "M·M")
    }

    func testBackwardOnNonScalarWithExplicitGradient() throws {
        let x = leaf()
        let y = x * 3
        let g = Tensor.ref([2, 3], [1, 0, -1, 2, 0.5, 4])
        y.backward(gradient: g)
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [3, 0, -3, 6, 1.5, 12], "3·g")

        // Backward from a leaf itself deposits the seed.
        let leafOnly = leaf()
        leafOnly.backward(gradient: g)
        assertClose(try XCTUnwrap(leafOnly.grad).toDoubleArray(), g.toDoubleArray(), "leaf seed")
    }

    func testScalarBackwardUsesSeedOne() throws {
        let x = leaf()
        x.sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [Double](repeating: 1, count: 6), "seed 1")
        let s = Tensor.ref([1, 1], [3]).requiringGrad()
        (s * s).backward()
        assertClose(try XCTUnwrap(s.grad).toDoubleArray(), [6], "one-element non-rank-0 output")
    }

    func testViewsRouteGradients() throws {
        let values = (0..<24).map(Double.init)
        let g = (0..<24).map { Double($0) * 10 + 1 }

        // reshape: the gradient comes back in the input's shape and order.
        let r = Tensor.ref([2, 3, 4], values).requiringGrad()
        r.reshaped([4, 6]).backward(gradient: .ref([4, 6], g))
        XCTAssertEqual(r.grad?.shape, [2, 3, 4])
        assertClose(try XCTUnwrap(r.grad).toDoubleArray(), g, "reshape")

        // permute: grad[i, j, k] = upstream[k, i, j] for order [2, 0, 1].
        let p = Tensor.ref([2, 3, 4], values).requiringGrad()
        let pv = p.permuted([2, 0, 1])
        XCTAssertEqual(pv.shape, [4, 2, 3])
        pv.backward(gradient: .ref([4, 2, 3], g))
        var expected = [Double](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected[(i * 3 + j) * 4 + k] = g[(k * 2 + i) * 3 + j] } } }
        XCTAssertEqual(p.grad?.shape, [2, 3, 4])
        assertClose(try XCTUnwrap(p.grad).toDoubleArray(), expected, "permute")

        // slice: zeros outside the window.
        let s = Tensor.ref([2, 3, 4], values).requiringGrad()
        s.slice(axis: 1, 1..<3).slice(axis: 2, 2..<3).backward(gradient: .ref([2, 2, 1], [1, 2, 3, 4]))
        expected = [Double](repeating: 0, count: 24)
        expected[1 * 4 + 2] = 1; expected[2 * 4 + 2] = 2; expected[12 + 1 * 4 + 2] = 3; expected[12 + 2 * 4 + 2] = 4
        assertClose(try XCTUnwrap(s.grad).toDoubleArray(), expected, "slice of slice")

        // Views sharing storage: both overlapping slices add into the same leaf elements.
        let o = Tensor.ref([5], [1, 2, 3, 4, 5]).requiringGrad()
        (o.slice(axis: 0, 0..<3) * o.slice(axis: 0, 2..<5)).sum().backward()
        // d/do_i of o0·o2 + o1·o3 + o2·o4
        assertClose(try XCTUnwrap(o.grad).toDoubleArray(), [3, 4, 1 + 5, 2, 3], "overlapping slices")

        // transpose then reshape (forces a copy) then back to the leaf.
        let t = Tensor.ref([2, 3], [1, 2, 3, 4, 5, 6]).requiringGrad()
        t.transposed().reshaped([6]).backward(gradient: .ref([6], [10, 20, 30, 40, 50, 60]))
        // transposed is [[1,4],[2,5],[3,6]]: upstream position p maps to element (p % 2, p / 2).
        assertClose(try XCTUnwrap(t.grad).toDoubleArray(), [10, 30, 50, 20, 40, 60], "transpose + reshape")
    }

    func testViewsShareStorageAndReadCorrectValues() {
        let x = Tensor.ref([2, 3, 4], (0..<24).map(Double.init))
        let p = x.permuted([2, 0, 1])
        XCTAssertTrue(p.storage === x.storage, "permute is a view")
        XCTAssertFalse(p.isContiguous)
        var expected: [Double] = []
        for k in 0..<4 { for i in 0..<2 { for j in 0..<3 { expected.append(Double((i * 3 + j) * 4 + k)) } } }
        assertClose(p.toDoubleArray(), expected, "permuted values")
        let s = x.slice(axis: 2, 1..<3)
        XCTAssertTrue(s.storage === x.storage, "slice is a view")
        assertClose(s.toDoubleArray(), [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22], "sliced values")
        // Ops on views read through the layout.
        assertClose((s * 2).toDoubleArray(), [2, 4, 10, 12, 18, 20, 26, 28, 34, 36, 42, 44], "op on sliced view")
    }

    func testContiguousOnAView() throws {
        let x = Tensor.ref([2, 3], [1, 2, 3, 4, 5, 6]).requiringGrad()
        let view = x.transposed()
        let c = view.contiguous()
        XCTAssertTrue(c.isContiguous)
        XCTAssertEqual(c.offset, 0)
        XCTAssertEqual(c.shape, [3, 2])
        XCTAssertFalse(c.storage === x.storage, "contiguous copies a non-contiguous view")
        assertClose(c.toDoubleArray(), [1, 4, 2, 5, 3, 6], "values")
        c.backward(gradient: .ref([3, 2], [1, 2, 3, 4, 5, 6]))
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [1, 3, 5, 2, 4, 6], "gradient routed through the copy")

        // A slice at a non-zero offset that is contiguous in layout still gets its own storage.
        let y = Tensor.ref([3, 2], [1, 2, 3, 4, 5, 6]).requiringGrad()
        let tail = y.slice(axis: 0, 1..<3).contiguous()
        XCTAssertEqual(tail.offset, 0)
        XCTAssertEqual(tail.storage.count, 4)
        assertClose(tail.toDoubleArray(), [3, 4, 5, 6], "offset slice values")
        tail.backward(gradient: .ref([2, 2], [1, 1, 1, 1]))
        assertClose(try XCTUnwrap(y.grad).toDoubleArray(), [0, 0, 1, 1, 1, 1], "offset slice gradient")

        // Already contiguous: no copy, no new node.
        let z = Tensor.ref([2, 2], [1, 2, 3, 4]).requiringGrad()
        let same = z.contiguous()
        XCTAssertTrue(same.storage === z.storage)
        XCTAssertTrue(same.gradNode === z.gradNode)
    }

    func testDetachedAndOtherDeviceCopies() throws {
        let x = leaf()
        // detached stops the gradient.
        (x * x.detached()).sum().backward()
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues, "only the recorded factor contributes")
        // A tensor moved to another device keeps routing to the same leaf.
        let y = leaf()
        (y.to(.cpu) * 2).to(.reference).sum().backward()
        assertClose(try XCTUnwrap(y.grad).toDoubleArray(), [Double](repeating: 2, count: 6), "through .to")
    }

    func testIntermediateResultsDoNotKeepGradients() throws {
        let x = leaf()
        let hidden = x * 2
        (hidden * hidden).sum().backward()
        XCTAssertNil(hidden.grad, "non-leaf results keep no gradient")
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), xValues.map { 8 * $0 }, "d/dx (2x)² = 8x")
    }

    func testTiedMaximaShareTheGradient() throws {
        let x = Tensor.ref([2, 3], [1, 3, 3, 2, 2, 0]).requiringGrad()
        x.max(axes: [1]).backward(gradient: .ref([2], [6, 4]))
        assertClose(try XCTUnwrap(x.grad).toDoubleArray(), [0, 3, 3, 2, 2, 0], "equal shares among ties")
        // Max pooling routes a tied window's gradient to its first maximum, as PyTorch.
        let image = Tensor.ref([1, 1, 2, 2], [5, 5, 5, 5]).requiringGrad()
        image.maxPool2d(kernel: (2, 2)).backward(gradient: .ref([1, 1, 1, 1], [1]))
        assertClose(try XCTUnwrap(image.grad).toDoubleArray(), [1, 0, 0, 0], "first maximum")
        // maximum(a, b): ties go to the first operand.
        let a = Tensor.ref([2], [1, 2]).requiringGrad(), b = Tensor.ref([2], [1, 3]).requiringGrad()
        a.maximum(b).sum().backward()
        assertClose(try XCTUnwrap(a.grad).toDoubleArray(), [1, 0], "a")
        assertClose(try XCTUnwrap(b.grad).toDoubleArray(), [0, 1], "b")
    }

    /// Regression for `Tensor.matmul(_:transposeSelf:transposeOther:)`: the gradient of a transposed left
    /// operand. Y = Aᵀ·B with A [k=2, m=3] and B [k=2, n=4]; dL/dA = B·Gᵀ has A's shape [2, 3].
    func testMatmulGradientOfTransposedLeftOperand() throws {
        let a = Tensor.ref([2, 3], [1, 2, 3, 4, 5, 6]).requiringGrad()
        let b = Tensor.ref([2, 4], [1, 0, 2, -1, 0, 1, 1, 3]).requiringGrad()
        let y = a.matmul(b, transposeSelf: true)
        XCTAssertEqual(y.shape, [3, 4])
        // Forward: Aᵀ·B.
        assertClose(y.toDoubleArray(), [1, 4, 6, 11, 2, 5, 9, 13, 3, 6, 12, 15], "forward")
        y.sum().backward()
        // dA = B·1ᵀ: each row of dA is the row sum of B, repeated over m.
        let ga = try XCTUnwrap(a.grad)
        XCTAssertEqual(ga.shape, [2, 3], "gradient of A must have A's shape")
        if ga.shape == [2, 3] { assertClose(ga.toDoubleArray(), [2, 2, 2, 5, 5, 5], "dA") }
        // dB = A·1 (A is used transposed): each column of dB is the row sum of A.
        assertClose(try XCTUnwrap(b.grad).toDoubleArray(), [6, 6, 6, 6, 15, 15, 15, 15], "dB")
    }
}
