import XCTest
@testable import TarsierCore
import TarsierSupport

/// One kernel configuration run on both backends.
struct ParityCase {
    let name: String
    let inputs: [InputSpec]
    /// Returns the outputs to compare; the first is back-propagated with a fixed random gradient.
    let body: ([Tensor]) -> [Tensor]

    init(_ name: String, _ inputs: [InputSpec], _ body: @escaping ([Tensor]) -> [Tensor]) {
        self.name = name
        self.inputs = inputs
        self.body = body
    }

    init(_ name: String, _ inputs: [InputSpec], single body: @escaping ([Tensor]) -> Tensor) {
        self.init(name, inputs) { [body($0)] }
    }
}

/// Device.cpu (oneDNN, Float32) against Device.reference (Float64 of the same Float32 values), forward
/// (with and without gradient recording: oneDNN uses different primitives) and backward.
enum Parity {
    static let tolerance = 1e-4

    /// Returns a description of each disagreement (empty when the backends agree).
    static func run(_ c: ParityCase) -> [String] {
        var generator = SeededGenerator(seed: stableSeed(c.name))
        let floats: [[Float]] = c.inputs.map { spec in spec.domain.values(spec.count, &generator).map { Float($0) } }
        func cpuInputs() -> [Tensor] { zip(c.inputs, floats).map { Tensor(shape: $0.shape, data: $1, device: .cpu) } }
        func refInputs() -> [Tensor] {
            zip(c.inputs, floats).map { Tensor.ref($0.shape, $1.map(Double.init)) }
        }
        var problems: [String] = []
        func compare(_ what: String, _ cpu: Tensor, _ ref: Tensor) {
            guard cpu.shape == ref.shape else {
                problems.append("\(what): shape \(cpu.shape) on cpu, \(ref.shape) on reference")
                return
            }
            if cpu.dtype != .float32 { problems.append("\(what): cpu dtype \(cpu.dtype)") }
            if cpu.device != .cpu { problems.append("\(what): result left the cpu device (\(cpu.device))") }
            let expected = ref.toDoubleArray(), actual = cpu.toDoubleArray()
            let scale = Swift.max(maxAbs(expected), 1e-12)
            let error = maxAbsDifference(actual, expected)
            if !(error <= tolerance * scale) {
                let worst = (0..<actual.count).max { Swift.abs(actual[$0] - expected[$0]) < Swift.abs(actual[$1] - expected[$1]) } ?? 0
                problems.append("\(what): relative error \(error / scale) (index \(worst): cpu \(actual[worst]), "
                                + "reference \(expected[worst]))")
            }
        }

        // Inference forward (no recording).
        let (cpuPlain, refPlain) = Autograd.withNoGrad { (c.body(cpuInputs()), c.body(refInputs())) }
        for (k, (a, b)) in zip(cpuPlain, refPlain).enumerated() { compare("no-grad output \(k)", a, b) }

        // Training forward and backward.
        let cpuLeaves = cpuInputs().map { $0.requiringGrad() }
        let refLeaves = refInputs().map { $0.requiringGrad() }
        let cpuOut = c.body(cpuLeaves), refOut = c.body(refLeaves)
        for (k, (a, b)) in zip(cpuOut, refOut).enumerated() { compare("output \(k)", a, b) }
        guard cpuOut[0].shape == refOut[0].shape else { return problems }
        let seed = ValueDomain.symmetric.values(refOut[0].count, &generator)
        cpuOut[0].backward(gradient: Tensor(shape: cpuOut[0].shape, data: seed.map { Float($0) }, device: .cpu))
        refOut[0].backward(gradient: Tensor.ref(refOut[0].shape, seed.map { Double(Float($0)) }))
        for (k, (a, b)) in zip(cpuLeaves, refLeaves).enumerated() {
            switch (a.grad, b.grad) {
            case (nil, nil): continue
            case (let ga?, let gb?):
                if gb.shape != c.inputs[k].shape {
                    problems.append("input \(k): reference gradient shape \(gb.shape), input shape \(c.inputs[k].shape)")
                }
                compare("gradient of input \(k)", ga, gb)
            case (let ga, let gb):
                problems.append("input \(k): gradient \(ga == nil ? "missing" : "present") on cpu, "
                                + "\(gb == nil ? "missing" : "present") on reference")
            }
        }
        return problems
    }
}

final class BackendParityTests: XCTestCase {
    private func check(_ cases: [ParityCase], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            let problems = Parity.run(c)
            if !problems.isEmpty {
                XCTFail("parity \(c.name): " + problems.joined(separator: "; "), file: file, line: line)
            }
        }
    }

    private func conv(_ name: String, x: [Int], w: [Int], bias: Bool, stride: (Int, Int) = (1, 1),
                      padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> ParityCase {
        var specs = [InputSpec(x), InputSpec(w, .uniform(-0.5, 0.5))]
        if bias { specs.append(InputSpec([w[0]])) }
        return ParityCase("conv2d \(name) x\(x) w\(w)\(bias ? " +bias" : "")", specs) {
            $0[0].conv2d(weight: $0[1], bias: bias ? $0[2] : nil, stride: stride, padding: padding,
                         dilation: dilation, groups: groups)
        }
    }

    func testConvolution() {
        check([
            conv("3→5 pad 1", x: [1, 3, 9, 11], w: [5, 3, 3, 3], bias: true, padding: (1, 1)),
            conv("3→5 no pad", x: [3, 3, 8, 7], w: [5, 3, 3, 3], bias: false),
            // Winograd (3x3, stride 1, at least 64 output tiles), channels-last in and out.
            conv("16→32 Winograd", x: [4, 16, 16, 16], w: [32, 16, 3, 3], bias: true, padding: (1, 1)),
            conv("17→24 Winograd, padded channels", x: [3, 17, 13, 22], w: [24, 17, 3, 3], bias: false,
                 padding: (1, 1)),
            // Channels-last activations with whole 16-channel blocks: the reorders to and from
            // Winograd's nChw16c layout (backward passes) are plain row copies (ChannelBlockReorder).
            ParityCase("conv2d 32→48 Winograd, channels-last", [InputSpec([4, 32, 17, 15]),
                                                                 InputSpec([48, 32, 3, 3], .uniform(-0.2, 0.2))]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], padding: (1, 1))]
            },
            // A residual connection as ResNet's blocks run it: both operands channels-last, and
            // large enough for oneDNN's binary kernel with its ReLU post-op.
            ParityCase("reluOfSum, channels-last (oneDNN)", [InputSpec([2, 16, 32, 36]), InputSpec([2, 16, 32, 36])], single: {
                $0[0].channelsLast().reluOfSum($0[1].channelsLast())
            }),
            ParityCase("conv2d with fused relu (Winograd and direct)",
                       [InputSpec([4, 16, 16, 16]), InputSpec([32, 16, 3, 3], .uniform(-0.5, 0.5)), InputSpec([32]),
                        InputSpec([8, 32, 3, 3], .uniform(-0.5, 0.5))]) {
                [$0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1), relu: true)
                    .conv2d(weight: $0[3], stride: (2, 2), relu: true)]
            },
            conv("5→17 stride 2 pad 1", x: [3, 5, 10, 9], w: [17, 5, 3, 3], bias: true, stride: (2, 2), padding: (1, 1)),
            conv("1x1 17→5", x: [3, 17, 6, 7], w: [5, 17, 1, 1], bias: true),
            conv("1x1 stride 2 (ResNet downsample)", x: [1, 5, 9, 9], w: [3, 5, 1, 1], bias: false, stride: (2, 2)),
            conv("dilation 2 pad 2", x: [1, 3, 11, 10], w: [5, 3, 3, 3], bias: true, padding: (2, 2), dilation: (2, 2)),
            conv("dilation 2 stride 2", x: [3, 5, 12, 11], w: [3, 5, 3, 3], bias: false, stride: (2, 2), dilation: (2, 2)),
            conv("groups 2", x: [3, 6, 8, 7], w: [4, 3, 3, 3], bias: true, padding: (1, 1), groups: 2),
            conv("groups 2 stride 2", x: [1, 10, 9, 9], w: [6, 5, 3, 3], bias: false, stride: (2, 2), padding: (1, 1),
                 groups: 2),
            conv("depthwise 5", x: [3, 5, 9, 9], w: [5, 1, 3, 3], bias: true, stride: (2, 2), padding: (1, 1), groups: 5),
            conv("depthwise 17", x: [1, 17, 7, 7], w: [17, 1, 3, 3], bias: false, padding: (1, 1), groups: 17),
            conv("7x7 stride 2 pad 3 (ResNet stem)", x: [3, 3, 23, 23], w: [16, 3, 7, 7], bias: false, stride: (2, 2),
                 padding: (3, 3)),
            conv("1x3 stride (1, 2) pad (0, 1)", x: [3, 3, 5, 9], w: [4, 3, 1, 3], bias: true, stride: (1, 2),
                 padding: (0, 1)),
            // Images of at most 4 pixels: dense matrix products (ResNet-18's last stages at 32 px).
            conv("3x3 on 1x1 (ResNet-18 at 32 px)", x: [3, 17, 1, 1], w: [6, 17, 3, 3], bias: true, padding: (1, 1)),
            ParityCase("conv2d 3x3 stride 2 on 2x2, channels-last", [InputSpec([2, 18, 2, 2]),
                                                                       InputSpec([5, 18, 3, 3], .uniform(-0.5, 0.5))]) {
                $0[0].channelsLast().conv2d(weight: $0[1], stride: (2, 2), padding: (1, 1))
            },
            ParityCase("conv2d 3x3 on 2x2 + bias + relu, channels-last",
                       [InputSpec([3, 18, 2, 2]), InputSpec([7, 18, 3, 3], .uniform(-0.5, 0.5)), InputSpec([7])]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], bias: $0[2], padding: (1, 1), relu: true)]
            },
            ParityCase("conv2d 1x3 on 1x3 with bias, channels-last",
                       [InputSpec([2, 5, 1, 3]), InputSpec([4, 5, 1, 3], .uniform(-0.5, 0.5)), InputSpec([4])]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], bias: $0[2], padding: (0, 1))]
            },
            ParityCase("conv2d 3x3 dilation 2 on 2x1, channels-last",
                       [InputSpec([2, 6, 2, 1]), InputSpec([3, 6, 3, 3], .uniform(-0.5, 0.5))]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], padding: (2, 2), dilation: (2, 2))]
            },
            // Over 8,192 filters (output times input channels, not a multiple of the 256-filter
            // blocks), so the weight's tap gather and scatter split over two threads.
            conv("3x3 on 1x1, 9,090 filters", x: [2, 101, 1, 1], w: [90, 101, 3, 3], bias: false, padding: (1, 1)),
            ParityCase("conv2d 3x3 on 2x2, 9,090 filters, channels-last",
                       [InputSpec([2, 101, 2, 2]), InputSpec([90, 101, 3, 3], .uniform(-0.1, 0.1))]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], padding: (1, 1))]
            },
            ParityCase("conv2d 1x1 stride 2 on 2x2 (projection), channels-last",
                       [InputSpec([3, 20, 2, 2]), InputSpec([9, 20, 1, 1], .uniform(-0.5, 0.5))]) {
                [$0[0].channelsLast().conv2d(weight: $0[1], stride: (2, 2))]
            },
        ])
    }

    func testPooling() {
        let x = InputSpec([3, 5, 9, 10])
        check([
            ParityCase("maxPool2d 3x3 s2 p1 (ResNet)", [x], single: { $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }),
            ParityCase("maxPool2d 3x3 s2 p1, 17 channels", [InputSpec([1, 17, 8, 8])], single: {
                $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            }),
            ParityCase("maxPool2d 2x2 odd width", [InputSpec([3, 3, 6, 7])], single: { $0[0].maxPool2d(kernel: (2, 2)) }),
            // Tiling windows over channels-last activations (as after a convolution) run
            // ChannelsLastMaxPool: ties (three levels; the gradient must go to the first
            // maximum), odd height, batch 1, 16-channel blocks with a tail, 3x3 windows with a
            // row and column left over. Overlapping and ceil-mode windows stay with oneDNN.
            ParityCase("maxPool2d 2x2, 6 channels-last channels, ties",
                       [InputSpec([4, 6, 10, 11], .levels([-0.5, 0, 0.25]))], single: {
                $0[0].channelsLast().maxPool2d(kernel: (2, 2))
            }),
            ParityCase("maxPool2d 2x2, 6 channels-last channels, batch 1, odd height", [InputSpec([1, 6, 9, 8])], single: {
                $0[0].channelsLast().maxPool2d(kernel: (2, 2))
            }),
            ParityCase("maxPool2d 2x2, 36 channels-last channels, ties", [InputSpec([3, 36, 6, 5], .levels([-0.5, 0, 0.25]))],
                       single: { $0[0].channelsLast().maxPool2d(kernel: (2, 2)) }),
            ParityCase("maxPool2d 3x3 stride 3, 17 channels-last channels", [InputSpec([2, 17, 10, 11])], single: {
                $0[0].channelsLast().maxPool2d(kernel: (3, 3))
            }),
            ParityCase("maxPool2d 3x3 s2 p1, channels-last, ties", [InputSpec([2, 18, 9, 8], .levels([-0.5, 0, 0.25]))],
                       single: { $0[0].channelsLast().maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }),
            ParityCase("maxPool2d 2x2 ceil, channels-last", [InputSpec([1, 20, 7, 7])], single: {
                $0[0].channelsLast().maxPool2d(kernel: (2, 2), ceilMode: true)
            }),
            ParityCase("maxPool2d 2x2 ceil", [InputSpec([1, 5, 7, 7])], single: { $0[0].maxPool2d(kernel: (2, 2), ceilMode: true) }),
            ParityCase("maxPool2d 3x3 s2 ceil", [InputSpec([1, 3, 8, 8])], single: {
                $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true)
            }),
            ParityCase("maxPool2d 3x3 s2 p1 ceil", [InputSpec([1, 3, 8, 9])], single: {
                $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
            }),
            // After relu most values are 0: ties, which both backends must route to the first maximum
            // (PyTorch's rule).
            ParityCase("maxPool2d 3x3 s2 p1 after relu (ties)", [InputSpec([3, 5, 9, 10], .uniform(-1, 0.3))], single: {
                $0[0].relu().maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            }),
            ParityCase("avgPool2d 3x3 s2 p1 include pad", [x], single: {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: true)
            }),
            ParityCase("avgPool2d 3x3 s2 p1 exclude pad", [x], single: {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: false)
            }),
            ParityCase("avgPool2d 2x2", [InputSpec([1, 17, 6, 6])], single: { $0[0].avgPool2d(kernel: (2, 2)) }),
            ParityCase("avgPool2d 2x2 ceil include pad", [InputSpec([1, 3, 7, 7])], single: {
                $0[0].avgPool2d(kernel: (2, 2), ceilMode: true, countIncludePad: true)
            }),
            ParityCase("avgPool2d 2x2 ceil exclude pad", [InputSpec([1, 3, 7, 7])], single: {
                $0[0].avgPool2d(kernel: (2, 2), ceilMode: true, countIncludePad: false)
            }),
            ParityCase("avgPool2d 3x3 s2 p1 ceil include pad", [InputSpec([1, 3, 8, 9])], single: {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true, countIncludePad: true)
            }),
            ParityCase("avgPool2d 3x3 s2 p1 ceil exclude pad", [InputSpec([1, 3, 8, 9])], single: {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true, countIncludePad: false)
            }),
            ParityCase("adaptiveAvgPool2d (1, 1)", [InputSpec([3, 17, 5, 5])], single: { $0[0].adaptiveAvgPool2d((1, 1)) }),
            ParityCase("adaptiveAvgPool2d (3, 3) from 6x6", [InputSpec([1, 5, 6, 6])], single: { $0[0].adaptiveAvgPool2d((3, 3)) }),
            ParityCase("adaptiveMaxPool2d (2, 2) from 6x6", [InputSpec([1, 5, 6, 6])], single: { $0[0].adaptiveMaxPool2d((2, 2)) }),
            // Global max pooling over channels-last activations (resnet9s's head), with ties.
            ParityCase("adaptiveMaxPool2d (1, 1) channels-last, ties", [InputSpec([3, 18, 3, 3], .levels([-0.5, 0, 0.25]))],
                       single: { $0[0].channelsLast().adaptiveMaxPool2d((1, 1)) }),
        ])
    }

    func testBatchNorm() {
        func train(_ shape: [Int], epsilon: Double = 1e-5) -> ParityCase {
            let c = shape[1]
            return ParityCase("batchNormTraining \(shape)",
                              [InputSpec(shape, .uniform(-1, 3)), InputSpec([c], .uniform(0.5, 1.5)), InputSpec([c])]) {
                let r = $0[0].batchNormTraining(scale: $0[1], shift: $0[2], epsilon: epsilon)
                return [r.output, r.mean, r.variance]
            }
        }
        // Fused with ReLU (oneDNN's fuse_norm_relu on the CPU); channels-last as after a convolution.
        func trainReLU(_ shape: [Int], channelsLast: Bool) -> ParityCase {
            let c = shape[1]
            return ParityCase("batchNormReLUTraining \(shape)\(channelsLast ? " channels-last" : "")",
                              [InputSpec(shape, .uniform(-1, 3)), InputSpec([c], .uniform(0.5, 1.5)), InputSpec([c])]) {
                let x = channelsLast ? $0[0].channelsLast() : $0[0]
                let r = x.batchNormReLUTraining(scale: $0[1], shift: $0[2], epsilon: 1e-5)
                return [r.output, r.mean, r.variance]
            }
        }
        func infer(_ shape: [Int]) -> ParityCase {
            let c = shape[1]
            return ParityCase("batchNormInference \(shape)",
                              [InputSpec(shape), InputSpec([c], .uniform(0.5, 1.5)), InputSpec([c]),
                               InputSpec([c], .uniform(-0.5, 0.5)), InputSpec([c], .uniform(0.2, 2))], single: {
                $0[0].batchNormInference(scale: $0[1], shift: $0[2], mean: $0[3], variance: $0[4], epsilon: 1e-5)
            })
        }
        check([
            train([3, 5, 7, 7]), train([1, 3, 5, 5]), train([4, 17, 1, 1]), train([6, 3]), train([3, 17, 4, 3], epsilon: 1e-3),
            trainReLU([3, 5, 7, 7], channelsLast: false), trainReLU([2, 18, 5, 4], channelsLast: true),
            trainReLU([6, 3], channelsLast: false),
            infer([3, 5, 4, 4]), infer([2, 17]), infer([1, 3, 1, 1]),
        ])
    }

    func testMatmul() {
        func mm(_ a: [Int], _ b: [Int], _ ta: Bool, _ tb: Bool) -> ParityCase {
            ParityCase("matmul \(a)\(ta ? "ᵀ" : "")·\(b)\(tb ? "ᵀ" : "")", [InputSpec(a), InputSpec(b)], single: {
                $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
            })
        }
        check([
            mm([64, 512], [10, 512], false, true),   // Linear(512, 10) on a batch of 64
            mm([1, 512], [10, 512], false, true),    // batch 1
            mm([3, 17], [17, 5], false, false),
            // Transposed left operand: k = 5 <= n so even a wrongly shaped gradient reads in bounds.
            mm([5, 7], [5, 13], true, false),
            mm([5, 7], [13, 5], true, true),
        ])
    }

    /// Element-wise, reduction and softmax kernels run the same loops on both devices in Float32
    /// and Float64; a quick check that the CPU device dispatches them consistently.
    func testOtherKernels() {
        let x = InputSpec([3, 5, 7], .uniform(-3, 3))
        check([
            ParityCase("softmax axis 1", [x], single: { $0[0].softmax(axis: 1) }),
            ParityCase("logSoftmax", [x], single: { $0[0].logSoftmax() }),
            ParityCase("gelu · relu · sigmoid · tanh", [x], single: { $0[0].gelu() + $0[0].relu() * $0[0].sigmoid() - $0[0].tanh() }),
            ParityCase("broadcast arithmetic", [x, InputSpec([5, 1], .uniform(0.5, 2))], single: { ($0[0] - $0[1]) / $0[1] }),
            ParityCase("sum, mean, max, logSumExp", [x], {
                [$0[0].sum(axes: [0, 2]), $0[0].mean(axis: 1), $0[0].max(axes: [2]), $0[0].logSumExp(axes: [1])]
            }),
        ])
    }

    /// The parity harness must notice a disagreement between the backends.
    func testHarnessDetectsADisagreement() {
        let c = ParityCase("device-dependent result", [InputSpec([4])], single: { inputs in
            inputs[0].device == .cpu ? inputs[0] * 1.001 : inputs[0]
        })
        XCTAssertFalse(Parity.run(c).isEmpty)
    }
}
