import TarsierCore
import TarsierNN
import TarsierSupport
import XCTest

/// The goldens again with inputs and upstream gradients stored channels-last (NHWC strides over an
/// NCHW shape, as PyTorch's `channels_last`), and single-channel convolutions, whose input is both
/// row-major and channels-last. Values must not depend on the memory layout.
final class LayoutTests: XCTestCase {

    /// The same values stored NHWC: strides [H·W·C, 1, W·C, C] over the NCHW shape.
    func channelsLastCopy(_ t: Tensor) -> Tensor {
        precondition(t.rank == 4)
        let nhwc = t.permuted([0, 2, 3, 1]).contiguous().detached()
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        return Tensor(storage: nhwc.storage, shape: t.shape, strides: [h * w * c, 1, w * c, c], device: t.device)
    }

    /// `channelsLast()` and `contiguous()` convert Float32 images with a tiled transpose per
    /// image: values land where NHWC and NCHW put them, on sizes that are not multiples of the
    /// 16x16 tile, with one thread and with the work split over two.
    func testLayoutConversionsPlaceEveryValue() {
        for shape in [[2, 5, 37, 41], [3, 7, 45, 53], [1, 3, 224, 224]] {
            let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
            let values = (0..<(n * c * h * w)).map { Float($0) }
            let nchw = Tensor(shape: shape, data: values)
            let nhwc = nchw.channelsLast()
            XCTAssertTrue(nhwc.isChannelsLast, "\(shape)")
            var expected = [Float](repeating: -1, count: values.count)
            for image in 0..<n {
                for channel in 0..<c {
                    for pixel in 0..<(h * w) {
                        expected[(image * h * w + pixel) * c + channel] = values[(image * c + channel) * h * w + pixel]
                    }
                }
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: nhwc.storage.floats, count: values.count)), expected, "\(shape)")
            XCTAssertEqual(nhwc.contiguous().toArray(), values, "\(shape) back to NCHW")
        }
    }

    func testConv2dWithChannelsLastOperandsMatchesPyTorch() throws {
        let f = try NNFixture.load("conv2d")
        for p in Precision.all {
            for c in 0..<(try f.int("cases")) {
                let k = "case\(c)."
                let s = try f.int(k + "stride"), pd = try f.int(k + "padding"), d = try f.int(k + "dilation")
                let x = channelsLastCopy(try f.tensor(k + "input", p)).requiringGrad()
                XCTAssertEqual(x.toDoubleArray(), try f.tensor(k + "input", p).toDoubleArray(), "the copy keeps the values")
                let w = try f.tensor(k + "weight", p).requiringGrad()
                let b = f.has(k + "bias") ? try f.tensor(k + "bias", p).requiringGrad() : nil
                let y = x.conv2d(weight: w, bias: b, stride: (s, s), padding: (pd, pd), dilation: (d, d),
                                 groups: try f.int(k + "groups"))
                try f.check(y, k + "output", p)
                y.backward(gradient: channelsLastCopy(try f.tensor(k + "grad_output", p)))
                try f.check(x.grad, k + "grad_input", p)
                try f.check(w.grad, k + "grad_weight", p)
                if let b { try f.check(b.grad, k + "grad_bias", p) }
            }
        }
    }

    func testPoolingWithChannelsLastOperandsMatchesPyTorch() throws {
        let f = try NNFixture.load("pool")
        for p in Precision.all {
            for c in 0..<(try f.int("cases")) {
                let k = "case\(c)."
                let x = channelsLastCopy(try f.tensor(k + "input", p)).requiringGrad()
                let y: Tensor
                switch try f.string(k + "op") {
                case "max_pool2d":
                    let (ks, s, pd) = (try f.int(k + "kernel_size"), try f.int(k + "stride"), try f.int(k + "padding"))
                    y = x.maxPool2d(kernel: (ks, ks), stride: (s, s), padding: (pd, pd), ceilMode: try f.bool(k + "ceil_mode"))
                case "avg_pool2d":
                    let (ks, s, pd) = (try f.int(k + "kernel_size"), try f.int(k + "stride"), try f.int(k + "padding"))
                    y = x.avgPool2d(kernel: (ks, ks), stride: (s, s), padding: (pd, pd), ceilMode: try f.bool(k + "ceil_mode"),
                                    countIncludePad: try f.bool(k + "count_include_pad"))
                case "adaptive_avg_pool2d": let n = try f.int(k + "output_size"); y = x.adaptiveAvgPool2d((n, n))
                case "adaptive_max_pool2d": let n = try f.int(k + "output_size"); y = x.adaptiveMaxPool2d((n, n))
                default: XCTFail("unknown pool op"); continue
                }
                try f.check(y, k + "output", p)
                y.backward(gradient: channelsLastCopy(try f.tensor(k + "grad_output", p)))
                try f.check(x.grad, k + "grad_input", p)
            }
        }
    }

    func testBatchNorm2dWithChannelsLastOperandsMatchesPyTorch() throws {
        let f = try NNFixture.load("batchnorm")
        for p in Precision.all {
            for name in ["train2d", "eval2d"] {
                let k = name + "."
                let bn = BatchNorm2d(try f.int(k + "num_features"))
                retarget(bn, to: p)
                var entries: [String: SafeTensorsEntry] = [:]
                for key in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] {
                    entries[key] = try f.entry(k + key)
                }
                try bn.loadStateDict(entries)
                bn.train(try f.string(k + "mode") == "train")
                let x = channelsLastCopy(try f.tensor(k + "input", p)).requiringGrad()
                let y = try bn(x)
                try f.check(y, k + "output", p)
                y.backward(gradient: channelsLastCopy(try f.tensor(k + "grad_output", p)))
                try f.check(x.grad, k + "grad_input", p)
                try f.check(bn.weight.grad, k + "grad_weight", p)
                try f.check(bn.bias.grad, k + "grad_bias", p)
                if bn.isTraining {
                    try f.check(bn.runningMean, k + "running_mean_after", p)
                    try f.check(bn.runningVar, k + "running_var_after", p)
                }
            }
        }
    }

    /// A one-channel input (LeNet's and resnet9s's first convolution on grayscale images) on the CPU
    /// backend against the Float64 reference: every gradient, not only the input's.
    func testSingleInputChannelConvolutionGradientsMatchReference() throws {
        var generator = SeededGenerator(seed: 99)
        let xs = (0..<(2 * 1 * 12 * 10)).map { _ in generator.nextNormal() }
        let ws = (0..<(8 * 1 * 3 * 3)).map { _ in generator.nextNormal() / 3 }
        let bs = (0..<8).map { _ in generator.nextNormal() }
        let gys = (0..<(2 * 8 * 12 * 10)).map { _ in generator.nextNormal() }
        func run(_ p: Precision) -> [Tensor?] {
            func make(_ shape: [Int], _ v: [Double]) -> Tensor {
                p.dtype == .float64 ? Tensor(shape: shape, data: v, device: p.device)
                                    : Tensor(shape: shape, data: v.map { Float($0) }, device: p.device)
            }
            let x = make([2, 1, 12, 10], xs).requiringGrad()
            let w = make([8, 1, 3, 3], ws).requiringGrad()
            let b = make([8], bs).requiringGrad()
            let y = x.conv2d(weight: w, bias: b, padding: (1, 1))
            y.backward(gradient: make([2, 8, 12, 10], gys))
            return [y, x.grad, w.grad, b.grad]
        }
        let expected = run(.reference64), actual = run(.cpu32)
        for (i, name) in ["output", "grad_input", "grad_weight", "grad_bias"].enumerated() {
            guard let e = expected[i] else { XCTFail("reference \(name) missing"); continue }
            assertClose(actual[i], e.toDoubleArray(), shape: e.shape, tolerance: 1e-4,
                        "conv2d 1→8 k3 p1 \(name) [float32 on cpu vs float64 reference]")
        }
    }
}
