import XCTest
@testable import TarsierCPU

final class ConvTests: XCTestCase {
    /// Runs forward, backward-data and backward-weights against the naive reference, twice
    /// with fresh data so that cached primitives must rebind every pointer.
    private func check(_ s: ReferenceConv.Shape, bias: Bool, seed: UInt64,
                       file: StaticString = #filePath, line: UInt = #line) {
        let g = ConvGeometry(batch: s.n, inChannels: s.c, inHeight: s.h, inWidth: s.w,
                             outChannels: s.o, kernelHeight: s.kh, kernelWidth: s.kw,
                             strideHeight: s.sh, strideWidth: s.sw, padHeight: s.ph, padWidth: s.pw,
                             dilationHeight: s.dh, dilationWidth: s.dw, groups: s.groups)
        XCTAssertEqual(g.outHeight, s.oh, file: file, line: line)
        XCTAssertEqual(g.outWidth, s.ow, file: file, line: line)
        var random = TestRandom(seed: seed)
        for round in 0..<2 {
            let x = random.floats(s.n * s.c * s.h * s.w)
            let w = random.floats(s.o * s.cg * s.kh * s.kw)
            let b = bias ? random.floats(s.o) : nil
            let dy = random.floats(s.n * s.o * s.oh * s.ow)
            let label = "\(g) bias \(bias) round \(round)"

            var y = [Float](repeating: .nan, count: dy.count)
            if let b {
                DNNL.conv2dForward(g, source: x, weight: w, bias: b, destination: &y)
            } else {
                DNNL.conv2dForward(g, source: x, weight: w, bias: nil, destination: &y)
            }
            assertClose(y, ReferenceConv.forward(s, x, w, b), "forward \(label)", file: file, line: line)
            // Inference: the plan keeps the reordered weight (a new version each round).
            let version = OperandVersion(identity: seed, offset: 0, version: UInt64(round))
            var inferred = [Float](repeating: .nan, count: dy.count)
            for _ in 0..<2 {
                if let b {
                    DNNL.conv2dForward(g, source: x, weight: w, bias: b, destination: &inferred,
                                       inferenceWeight: version)
                } else {
                    DNNL.conv2dForward(g, source: x, weight: w, bias: nil, destination: &inferred,
                                       inferenceWeight: version)
                }
            }
            assertClose(inferred, ReferenceConv.forward(s, x, w, b), "inference forward \(label)",
                        file: file, line: line)

            var dx = [Float](repeating: .nan, count: x.count)
            DNNL.conv2dBackwardData(g, destinationGradient: dy, weight: w, sourceGradient: &dx)
            assertClose(dx, ReferenceConv.backwardData(s, dy, w), "backward data \(label)",
                        file: file, line: line)

            let expected = ReferenceConv.backwardWeights(s, x, dy)
            var dw = [Float](repeating: .nan, count: w.count)
            if bias {
                var db = [Float](repeating: .nan, count: s.o)
                DNNL.conv2dBackwardWeights(g, source: x, destinationGradient: dy,
                                           weightGradient: &dw, biasGradient: &db)
                assertClose(db, expected.b, "backward bias \(label)", file: file, line: line)
            } else {
                DNNL.conv2dBackwardWeights(g, source: x, destinationGradient: dy,
                                           weightGradient: &dw, biasGradient: nil)
            }
            assertClose(dw, expected.w, "backward weights \(label)", file: file, line: line)
        }
    }

    private func shape(n: Int, c: Int, h: Int, w: Int, o: Int, k: (Int, Int), s: (Int, Int) = (1, 1),
                       p: (Int, Int) = (0, 0), d: (Int, Int) = (1, 1), groups: Int = 1)
        -> ReferenceConv.Shape {
        ReferenceConv.Shape(n: n, c: c, h: h, w: w, o: o, kh: k.0, kw: k.1, sh: s.0, sw: s.1,
                            ph: p.0, pw: p.1, dh: d.0, dw: d.1, groups: groups)
    }

    func testSamePadding3x3WithBias() {
        check(shape(n: 1, c: 3, h: 7, w: 9, o: 5, k: (3, 3), p: (1, 1)), bias: true, seed: 1)
    }

    func testStride2RectangularKernelNoBias() {
        check(shape(n: 3, c: 5, h: 9, w: 8, o: 17, k: (3, 2), s: (2, 2), p: (1, 2)),
              bias: false, seed: 2)
    }

    func testDilation2() {
        check(shape(n: 3, c: 17, h: 11, w: 10, o: 5, k: (3, 3), p: (2, 2), d: (2, 2)),
              bias: true, seed: 3)
    }

    func testTwoGroups() {
        check(shape(n: 3, c: 10, h: 8, w: 7, o: 6, k: (3, 3), s: (2, 2), p: (1, 1), groups: 2),
              bias: true, seed: 4)
    }

    func testDepthwise() {
        check(shape(n: 3, c: 17, h: 9, w: 9, o: 17, k: (3, 3), s: (2, 2), p: (1, 1), groups: 17),
              bias: false, seed: 5)
        // Channel multiplier 2.
        check(shape(n: 1, c: 5, h: 6, w: 7, o: 10, k: (3, 3), p: (1, 1), groups: 5),
              bias: true, seed: 6)
    }

    func testPointwiseAndLargeKernel() {
        check(shape(n: 3, c: 17, h: 5, w: 6, o: 5, k: (1, 1)), bias: true, seed: 7)
        check(shape(n: 3, c: 3, h: 13, w: 12, o: 5, k: (5, 5), s: (2, 2), p: (2, 2)),
              bias: false, seed: 8)
    }

    /// Channel counts oneDNN likes to block (multiples of 16), so the reorders run.
    func testBlockedLayoutChannels() {
        check(shape(n: 3, c: 32, h: 8, w: 8, o: 48, k: (3, 3), p: (1, 1)), bias: true, seed: 9)
        check(shape(n: 1, c: 32, h: 9, w: 9, o: 32, k: (3, 3), s: (2, 2), p: (1, 1), groups: 32),
              bias: true, seed: 10)
    }

    private func geometry(_ s: ReferenceConv.Shape) -> ConvGeometry {
        ConvGeometry(batch: s.n, inChannels: s.c, inHeight: s.h, inWidth: s.w, outChannels: s.o,
                     kernelHeight: s.kh, kernelWidth: s.kw, strideHeight: s.sh, strideWidth: s.sw,
                     padHeight: s.ph, padWidth: s.pw, dilationHeight: s.dh, dilationWidth: s.dw,
                     groups: s.groups)
    }

    /// 3x3 stride-1 convolutions with at least 64 output tiles run Winograd F(4x4, 3x3) in both
    /// backward passes and in inference, and agree with the reference as closely as the direct
    /// kernels must.
    func testWinogradShapes() {
        // The last has channel counts oneDNN pads to multiples of 16.
        let eligible = [shape(n: 4, c: 16, h: 16, w: 16, o: 32, k: (3, 3), p: (1, 1)),
                        shape(n: 3, c: 32, h: 13, w: 22, o: 16, k: (3, 3), p: (1, 1)),
                        shape(n: 2, c: 16, h: 34, w: 34, o: 16, k: (3, 3)),
                        shape(n: 4, c: 17, h: 16, w: 16, o: 24, k: (3, 3), p: (1, 1))]
        for (index, s) in eligible.enumerated() {
            // Training forward passes stay direct (see ConvPlans.algorithm).
            let names = DNNL.convolutionPlanNames(geometry(s))
            XCTAssertTrue(names[0].contains("direct"), "\(geometry(s)): \(names[0])")
            for name in names.dropFirst() {
                XCTAssertTrue(name.contains("winograd"), "\(geometry(s)): \(name)")
            }
            check(s, bias: index != 1, seed: 20 + UInt64(index))
        }
        // Fewer than 16 channels, too few tiles (batch 1, 7x7) or a stride: direct.
        let few = shape(n: 4, c: 5, h: 16, w: 16, o: 7, k: (3, 3), p: (1, 1))
        check(few, bias: true, seed: 24)
        for s in [few, shape(n: 1, c: 16, h: 7, w: 7, o: 16, k: (3, 3), p: (1, 1)),
                  shape(n: 8, c: 16, h: 16, w: 16, o: 16, k: (3, 3), s: (2, 2), p: (1, 1))] {
            for name in DNNL.convolutionPlanNames(geometry(s)) {
                XCTAssertTrue(name.contains("direct"), "\(geometry(s)): \(name)")
            }
        }
    }

    /// With fewer than 16 input channels a Float32 forward pass runs `jit:avx512_core` instead of
    /// oneDNN's first choice (`brgconv`, up to 2x slower there); from 16 channels oneDNN's choice
    /// stands. On a CPU without AVX-512 neither kernel exists and the test skips.
    func testFewInputChannelsTakeTheJitKernel() throws {
        var few = geometry(shape(n: 8, c: 1, h: 28, w: 28, o: 6, k: (5, 5), p: (2, 2)))
        var many = geometry(shape(n: 8, c: 32, h: 14, w: 14, o: 32, k: (3, 3), s: (2, 2), p: (1, 1)))
        few.channelsLast = true
        many.channelsLast = true
        let names = DNNL.convolutionPlanNames(few)
        try XCTSkipUnless(names[0].contains("avx512"), "needs AVX-512: \(names[0])")
        for name in [names[0], names[3]] { XCTAssertTrue(name.contains("[jit:avx512_core]"), name) }
        XCTAssertTrue(DNNL.convolutionPlanNames(many)[0].contains("[brgconv"), DNNL.convolutionPlanNames(many)[0])
        check(shape(n: 8, c: 1, h: 28, w: 28, o: 6, k: (5, 5), p: (2, 2)), bias: true, seed: 90)
        check(shape(n: 3, c: 6, h: 14, w: 13, o: 16, k: (5, 5)), bias: true, seed: 91)
    }

    /// Winograd's extra rounding, measured on a deep layer (256 input channels): its worst error
    /// relative to the output's scale stays within a small multiple of the direct kernel's.
    func testWinogradAccuracyOnDeepLayer() {
        let s = shape(n: 4, c: 256, h: 16, w: 16, o: 16, k: (3, 3), p: (1, 1))
        let g = geometry(s)
        var random = TestRandom(seed: 31)
        let x = random.floats(s.n * s.c * s.h * s.w)
        let w = random.floats(s.o * s.c * 9)
        let dy = random.floats(s.n * s.o * s.oh * s.ow)
        let expected = ReferenceConv.forward(s, x, w, nil)
        let expectedData = ReferenceConv.backwardData(s, dy, w)
        let expectedWeights = ReferenceConv.backwardWeights(s, x, dy).w
        func scaledError(_ actual: [Float], _ expected: [Double]) -> Double {
            let scale = expected.map(abs).max() ?? 1
            return zip(actual, expected).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
        }
        func errors() -> [Double] {
            var y = [Float](repeating: .nan, count: expected.count)
            // The inference forward pass (training forward passes are always direct).
            DNNL.conv2dForward(g, source: x, weight: w, bias: nil, destination: &y,
                               inferenceWeight: OperandVersion(identity: 99, offset: 0, version: 0))
            var dx = [Float](repeating: .nan, count: x.count)
            DNNL.conv2dBackwardData(g, destinationGradient: dy, weight: w, sourceGradient: &dx)
            var dw = [Float](repeating: .nan, count: w.count)
            DNNL.conv2dBackwardWeights(g, source: x, destinationGradient: dy, weightGradient: &dw,
                                       biasGradient: nil)
            return [scaledError(y, expected), scaledError(dx, expectedData),
                    scaledError(dw, expectedWeights)]
        }
        let winograd = errors()
        DNNL.winogradConvolutions = false
        defer { DNNL.winogradConvolutions = true }
        let direct = errors()
        print("Winograd error relative to scale (fwd, bwd data, bwd weights): \(winograd); direct: \(direct)")
        for (pass, (w, d)) in zip(["forward", "backward data", "backward weights"], zip(winograd, direct)) {
            XCTAssertLessThan(w, 1e-5, pass)
            XCTAssertLessThan(w, max(20 * d, 1e-6), pass)
        }
    }

    /// Single-pixel images (NCHW and channels-last coincide) run every pass as one matrix
    /// product per linked pixel pair: a 3x3 kernel on 1x1 (centre tap only), a dilated kernel, a
    /// window that exactly covers a 1x1 input. Multi-pixel small images need channels-last and
    /// are checked in `BackendParityTests`; NCHW ones stay with oneDNN.
    func testSmallImageConvolutions() {
        let shapes = [shape(n: 3, c: 5, h: 1, w: 1, o: 6, k: (3, 3), p: (1, 1)),
                      shape(n: 1, c: 3, h: 1, w: 1, o: 4, k: (3, 3), p: (2, 2), d: (2, 2)),
                      shape(n: 2, c: 32, h: 1, w: 1, o: 16, k: (1, 1))]
        for (index, s) in shapes.enumerated() {
            for name in DNNL.convolutionPlanNames(geometry(s)) {
                XCTAssertTrue(name.contains("small image"), "\(geometry(s)): \(name)")
            }
            check(s, bias: index % 2 == 0, seed: 50 + UInt64(index))
        }
        let nchw = shape(n: 2, c: 17, h: 2, w: 2, o: 8, k: (3, 3), p: (1, 1))
        XCTAssertFalse(DNNL.convolutionPlanNames(geometry(nchw))[2].contains("small image"))
        var channelsLast = geometry(nchw)
        channelsLast.channelsLast = true
        // 2x2 outputs: the source gradient stays with oneDNN.
        for (pass, name) in DNNL.convolutionPlanNames(channelsLast).enumerated() {
            XCTAssertEqual(name.contains("small image"), pass != 1, "pass \(pass): \(name)")
        }
    }

    /// bf16 backward-data passes of stride-1 convolutions run as the forward convolution of the
    /// transposed geometry (flipped, channel-swapped weight) and agree with the reference to
    /// bf16's precision; strided ones keep oneDNN's backward-data kernel. Covers odd channel
    /// counts, groups, dilation, rectangular kernels, no padding and batch 1.
    func testBFloat16BackwardDataAsTransposedForward() {
        let transposable = [shape(n: 2, c: 5, h: 9, w: 7, o: 6, k: (3, 3), p: (1, 1)),
                            shape(n: 1, c: 32, h: 8, w: 8, o: 48, k: (3, 3), p: (1, 1)),
                            shape(n: 3, c: 6, h: 11, w: 10, o: 4, k: (3, 3), p: (2, 2), d: (2, 2), groups: 2),
                            shape(n: 2, c: 4, h: 6, w: 9, o: 3, k: (1, 3), p: (0, 1)),
                            shape(n: 2, c: 3, h: 8, w: 8, o: 5, k: (5, 5)),
                            shape(n: 2, c: 8, h: 5, w: 5, o: 8, k: (1, 1))]
        let strided = shape(n: 2, c: 5, h: 9, w: 9, o: 6, k: (3, 3), s: (2, 2), p: (1, 1))
        let previous = DNNL.bfloat16Convolutions
        defer { DNNL.bfloat16Convolutions = previous }
        DNNL.bfloat16Convolutions = [.backwardData]
        var random = TestRandom(seed: 41)
        for s in transposable + [strided] {
            let g = geometry(s)
            let name = DNNL.convolutionPlanNames(g)[1]
            XCTAssertEqual(name.hasPrefix("convolution forward"), g.strideHeight == 1, "\(g): \(name)")
            let w = random.floats(s.o * s.cg * s.kh * s.kw)
            let dy = random.floats(s.n * s.o * s.oh * s.ow)
            let expected = ReferenceConv.backwardData(s, dy, w)
            var dx = [Float](repeating: .nan, count: s.n * s.c * s.h * s.w)
            DNNL.conv2dBackwardData(g, destinationGradient: dy, weight: w, sourceGradient: &dx)
            let scale = expected.map(abs).max() ?? 1
            let error = zip(dx, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            XCTAssertLessThan(error / scale, 2e-2, "\(g)")
            // bf16 really ran: Float32 would agree to about 1e-7.
            XCTAssertGreaterThan(error / scale, 1e-5, "\(g)")
        }
    }

    /// bf16 weight gradients on small channels-last images run as one matrix product over the
    /// lowered source, and equal the reference computed on bf16-rounded operands to Float32
    /// accumulation (1e-5 of the scale: a misplaced tap or channel shows as a whole term, and
    /// Float32 operands would differ by bf16's rounding, about 4e-3). Covers stride 2 (down to
    /// 2x2 outputs from a 4x4 source), dilation, rectangular images, a pointwise kernel, odd
    /// channel counts, bias and batch 1. 7x7 outputs, groups, and the 1x1 and 2x2 images that
    /// `SmallImageConv` takes stay elsewhere.
    func testBFloat16WeightGradientAsLoweredProduct() {
        let lowered = [(shape(n: 3, c: 5, h: 3, w: 3, o: 6, k: (3, 3), p: (1, 1)), true),
                       (shape(n: 2, c: 4, h: 5, w: 6, o: 3, k: (3, 3), s: (2, 2), p: (1, 1)), false),
                       (shape(n: 1, c: 7, h: 6, w: 6, o: 5, k: (3, 3), p: (2, 2), d: (2, 2)), true),
                       (shape(n: 2, c: 33, h: 3, w: 3, o: 17, k: (1, 1)), false),
                       (shape(n: 3, c: 9, h: 4, w: 4, o: 5, k: (3, 3), s: (2, 2), p: (1, 1)), true),
                       (shape(n: 4, c: 128, h: 3, w: 3, o: 128, k: (3, 3), p: (1, 1)), false)]
        let previous = DNNL.bfloat16Convolutions
        defer { DNNL.bfloat16Convolutions = previous }
        DNNL.bfloat16Convolutions = [.backwardWeights]
        var random = TestRandom(seed: 77)
        for (s, bias) in lowered {
            var g = geometry(s)
            g.channelsLast = true
            XCTAssertTrue(DNNL.convolutionPlanNames(g)[2].contains("lowered source"), "\(g)")
            let x = random.floats(s.n * s.c * s.h * s.w), dy = random.floats(s.n * s.o * s.oh * s.ow)
            let expected = ReferenceConv.backwardWeights(s, x.map(roundedToBFloat16), dy.map(roundedToBFloat16)).w
            var dw = [Float](repeating: .nan, count: expected.count)
            var db = [Float](repeating: .nan, count: s.o)
            let xLast = channelsLast(x, s.n, s.c, s.h * s.w), dyLast = channelsLast(dy, s.n, s.o, s.oh * s.ow)
            if bias {
                DNNL.conv2dBackwardWeights(g, source: xLast, destinationGradient: dyLast,
                                           weightGradient: &dw, biasGradient: &db)
                // The bias gradient sums the Float32 destination gradient.
                assertClose(db, ReferenceConv.backwardWeights(s, x, dy).b, tolerance: 1e-5, "bias \(g)")
            } else {
                DNNL.conv2dBackwardWeights(g, source: xLast, destinationGradient: dyLast,
                                           weightGradient: &dw, biasGradient: nil)
            }
            let scale = expected.map(abs).max() ?? 1
            let error = zip(dw, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            XCTAssertLessThan(error / scale, 1e-5, "\(g)")
        }
        let elsewhere = [shape(n: 2, c: 8, h: 3, w: 3, o: 8, k: (3, 3), p: (1, 1), groups: 2),
                         shape(n: 2, c: 8, h: 7, w: 7, o: 8, k: (3, 3), p: (1, 1)),
                         shape(n: 2, c: 8, h: 2, w: 2, o: 8, k: (3, 3), p: (1, 1)),
                         shape(n: 2, c: 8, h: 1, w: 1, o: 8, k: (3, 3), p: (1, 1))]
        for s in elsewhere {
            var g = geometry(s)
            g.channelsLast = true
            XCTAssertFalse(DNNL.convolutionPlanNames(g)[2].contains("lowered source"), "\(g)")
        }
    }

    /// The backward-weights pass reuses the reordered destination gradient the backward-data
    /// pass left, when both name the same operand version, in bf16 (the data pass run as the
    /// transposed forward convolution) and in Float32 Winograd (blocked layout); a new version
    /// is reordered afresh. Feeding other data under the same version shows the reuse.
    func testBackwardPassesShareTheDestinationGradientCopy() {
        let previous = DNNL.bfloat16Convolutions
        defer { DNNL.bfloat16Convolutions = previous }
        for (passes, side) in [(ConvolutionPasses.all, 14), ([], 16)] {
            DNNL.bfloat16Convolutions = passes
            var g = geometry(shape(n: 4, c: 16, h: side, w: side, o: 16, k: (3, 3), p: (1, 1)))
            g.channelsLast = true
            var random = TestRandom(seed: 91)
            let x = random.floats(4 * 16 * side * side), w = random.floats(16 * 16 * 9)
            let first = random.floats(x.count), second = random.floats(x.count)
            func weightGradient(_ dy: [Float], _ version: OperandVersion?) -> [Float] {
                var dw = [Float](repeating: .nan, count: w.count)
                DNNL.conv2dBackwardWeights(g, source: x, destinationGradient: dy, weightGradient: &dw,
                                           biasGradient: nil, destinationGradientVersion: version)
                return dw
            }
            let version = OperandVersion(identity: 9_000_001 + UInt64(side), offset: 0, version: 0)
            var dx = [Float](repeating: .nan, count: x.count)
            DNNL.conv2dBackwardData(g, destinationGradient: first, weight: w, sourceGradient: &dx,
                                    destinationGradientVersion: version)
            let label = "passes \(passes.rawValue): \(DNNL.convolutionPlanNames(g)[2])"
            XCTAssertEqual(weightGradient(second, version), weightGradient(first, nil), "reused copy, \(label)")
            var newer = version
            newer.version += 1
            XCTAssertEqual(weightGradient(second, newer), weightGradient(second, nil), "new version, \(label)")
        }
    }

    /// `values` (`[n, c, pixels]`) as `[n, pixels, c]`.
    private func channelsLast(_ values: [Float], _ n: Int, _ c: Int, _ pixels: Int) -> [Float] {
        var result = values
        for image in 0..<n {
            for channel in 0..<c {
                for pixel in 0..<pixels {
                    result[(image * pixels + pixel) * c + channel] = values[(image * c + channel) * pixels + pixel]
                }
            }
        }
        return result
    }

    /// `value` rounded to bfloat16 (nearest, ties to even) and back.
    private func roundedToBFloat16(_ value: Float) -> Float {
        let bits = value.bitPattern
        return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
    }

    func testOutputSize() {
        let g = ConvGeometry(batch: 1, inChannels: 1, inHeight: 224, inWidth: 223, outChannels: 1,
                             kernelHeight: 7, kernelWidth: 7, strideHeight: 2, strideWidth: 2,
                             padHeight: 3, padWidth: 3, dilationHeight: 1, dilationWidth: 1,
                             groups: 1)
        XCTAssertEqual(g.outHeight, 112)
        XCTAssertEqual(g.outWidth, 112)
        XCTAssertEqual(g.flops, 2 * 112 * 112 * 49)
    }
}

final class ConvConcurrencyTests: XCTestCase {
    /// Calls sharing one cached plan from several threads must not mix up their buffers.
    func testConcurrentCallsWithSameGeometry() {
        let g = ConvGeometry(batch: 1, inChannels: 16, inHeight: 6, inWidth: 6, outChannels: 16,
                             kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                             padHeight: 1, padWidth: 1, dilationHeight: 1, dilationWidth: 1,
                             groups: 1)
        let s = ReferenceConv.Shape(n: 1, c: 16, h: 6, w: 6, o: 16, kh: 3, kw: 3, sh: 1, sw: 1,
                                    ph: 1, pw: 1, dh: 1, dw: 1, groups: 1)
        let tasks = 8
        var random = TestRandom(seed: 77)
        let inputs = (0..<tasks).map { _ in random.floats(16 * 36) }
        let weight = random.floats(16 * 16 * 9)
        let outputs = UnsafeMutablePointer<Float>.allocate(capacity: tasks * 16 * 36)
        defer { outputs.deallocate() }
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            for _ in 0..<5 {
                DNNL.conv2dForward(g, source: inputs[t], weight: weight, bias: nil,
                                   destination: outputs + t * 16 * 36)
            }
        }
        for t in 0..<tasks {
            let actual = Array(UnsafeBufferPointer(start: outputs + t * 16 * 36, count: 16 * 36))
            assertClose(actual, ReferenceConv.forward(s, inputs[t], weight, nil), "task \(t)")
        }
    }

    /// Changing the thread count drops cached primitives; results must not change.
    func testThreadCountChange() {
        let g = ConvGeometry(batch: 3, inChannels: 5, inHeight: 7, inWidth: 7, outChannels: 17,
                             kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                             padHeight: 1, padWidth: 1, dilationHeight: 1, dilationWidth: 1,
                             groups: 1)
        let s = ReferenceConv.Shape(n: 3, c: 5, h: 7, w: 7, o: 17, kh: 3, kw: 3, sh: 2, sw: 2,
                                    ph: 1, pw: 1, dh: 1, dw: 1, groups: 1)
        var random = TestRandom(seed: 78)
        let x = random.floats(3 * 5 * 49), w = random.floats(17 * 5 * 9), b = random.floats(17)
        for threads in [1, 2] {
            DNNL.setThreadCount(threads)
            var y = [Float](repeating: .nan, count: 3 * 17 * 16)
            DNNL.conv2dForward(g, source: x, weight: w, bias: b, destination: &y)
            assertClose(y, ReferenceConv.forward(s, x, w, b), "threads \(threads)")
        }
    }
}
