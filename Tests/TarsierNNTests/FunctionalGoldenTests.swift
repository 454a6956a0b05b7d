import TarsierCore
import TarsierNN
import TarsierSupport
import XCTest

/// PyTorch goldens for the functional ops and thin layers, run twice: Float64 on the reference
/// backend (tolerance 1e-9 relative to scale) and Float32 on the oneDNN CPU backend (1e-4).
final class FunctionalGoldenTests: XCTestCase {

    // MARK: conv2d

    func testConv2dFunctionalMatchesPyTorch() throws {
        let f = try NNFixture.load("conv2d")
        let cases = try f.int("cases")
        XCTAssertEqual(cases, 5, "conv2d fixture case count")
        for p in Precision.all {
            for c in 0..<cases {
                let k = "case\(c)."
                let stride = try f.int(k + "stride"), padding = try f.int(k + "padding")
                let dilation = try f.int(k + "dilation"), groups = try f.int(k + "groups")
                let hasBias = try f.bool(k + "bias")
                XCTAssertEqual(f.has(k + "bias"), hasBias, "\(k)bias key vs metadata")

                let x = try f.tensor(k + "input", p).requiringGrad()
                let w = try f.tensor(k + "weight", p).requiringGrad()
                let b = hasBias ? try f.tensor(k + "bias", p).requiringGrad() : nil
                let y = x.conv2d(weight: w, bias: b, stride: (stride, stride), padding: (padding, padding),
                                 dilation: (dilation, dilation), groups: groups)
                XCTAssertEqual(y.dtype, p.dtype)
                try f.check(y, k + "output", p)
                y.backward(gradient: try f.tensor(k + "grad_output", p))
                try f.check(x.grad, k + "grad_input", p)
                try f.check(w.grad, k + "grad_weight", p)
                if let b { try f.check(b.grad, k + "grad_bias", p) }
            }
        }
    }

    /// The same cases through the `Conv2d` layer, its weights loaded with `loadStateDict`.
    func testConv2dLayerMatchesPyTorch() throws {
        let f = try NNFixture.load("conv2d")
        for p in Precision.all {
            for c in 0..<(try f.int("cases")) {
                let k = "case\(c)."
                let conv = Conv2d(inputChannels: try f.int(k + "in_channels"),
                                  outputChannels: try f.int(k + "out_channels"),
                                  kernelSize: try f.int(k + "kernel_size"), stride: try f.int(k + "stride"),
                                  padding: try f.int(k + "padding"), dilation: try f.int(k + "dilation"),
                                  groups: try f.int(k + "groups"), bias: try f.bool(k + "bias"))
                retarget(conv, to: p)
                var entries = ["weight": try f.entry(k + "weight")]
                if f.has(k + "bias") { entries["bias"] = try f.entry(k + "bias") }
                try conv.loadStateDict(entries, strict: true)

                let x = try f.tensor(k + "input", p).requiringGrad()
                let y = try conv(x)
                try f.check(y, k + "output", p)
                y.backward(gradient: try f.tensor(k + "grad_output", p))
                try f.check(x.grad, k + "grad_input", p)
                try f.check(conv.weight.grad, k + "grad_weight", p)
                if f.has(k + "bias") { try f.check(conv.bias?.grad, k + "grad_bias", p) }
            }
        }
    }

    // MARK: pooling

    func testPoolingMatchesPyTorch() throws {
        let f = try NNFixture.load("pool")
        let cases = try f.int("cases")
        XCTAssertEqual(cases, 10, "pool fixture case count")
        for p in Precision.all {
            for c in 0..<cases {
                let k = "case\(c)."
                let op = try f.string(k + "op")
                let layer: Module
                switch op {
                case "max_pool2d":
                    layer = MaxPool2d(kernelSize: try f.int(k + "kernel_size"), stride: try f.int(k + "stride"),
                                      padding: try f.int(k + "padding"), ceilMode: try f.bool(k + "ceil_mode"))
                case "avg_pool2d":
                    layer = AvgPool2d(kernelSize: try f.int(k + "kernel_size"), stride: try f.int(k + "stride"),
                                      padding: try f.int(k + "padding"), ceilMode: try f.bool(k + "ceil_mode"),
                                      countIncludePad: try f.bool(k + "count_include_pad"))
                case "adaptive_avg_pool2d": layer = AdaptiveAvgPool2d(try f.int(k + "output_size"))
                case "adaptive_max_pool2d": layer = AdaptiveMaxPool2d(try f.int(k + "output_size"))
                default: XCTFail("unknown pool op \(op)"); continue
                }
                let x = try f.tensor(k + "input", p).requiringGrad()
                let y = try layer(x)
                try f.check(y, k + "output", p)
                y.backward(gradient: try f.tensor(k + "grad_output", p))
                try f.check(x.grad, k + "grad_input", p)
            }
        }
    }

    /// The functional pooling entry points with the fixture's parameters, bypassing the layers.
    func testPoolingFunctionalMatchesPyTorch() throws {
        let f = try NNFixture.load("pool")
        for p in Precision.all {
            for c in 0..<(try f.int("cases")) {
                let k = "case\(c)."
                let x = try f.tensor(k + "input", p).requiringGrad()
                let y: Tensor
                switch try f.string(k + "op") {
                case "max_pool2d":
                    let (ks, s, pd) = (try f.int(k + "kernel_size"), try f.int(k + "stride"), try f.int(k + "padding"))
                    y = x.maxPool2d(kernel: (ks, ks), stride: (s, s), padding: (pd, pd), ceilMode: try f.bool(k + "ceil_mode"))
                case "avg_pool2d":
                    let (ks, s, pd) = (try f.int(k + "kernel_size"), try f.int(k + "stride"), try f.int(k + "padding"))
                    y = x.avgPool2d(kernel: (ks, ks), stride: (s, s), padding: (pd, pd),
                                    ceilMode: try f.bool(k + "ceil_mode"),
                                    countIncludePad: try f.bool(k + "count_include_pad"))
                case "adaptive_avg_pool2d":
                    let n = try f.int(k + "output_size")
                    y = x.adaptiveAvgPool2d((n, n))
                case "adaptive_max_pool2d":
                    let n = try f.int(k + "output_size")
                    y = x.adaptiveMaxPool2d((n, n))
                default: XCTFail("unknown pool op"); continue
                }
                try f.check(y, k + "output", p)
                y.backward(gradient: try f.tensor(k + "grad_output", p))
                try f.check(x.grad, k + "grad_input", p)
            }
        }
    }

    // MARK: batch norm

    func testBatchNormMatchesPyTorch() throws {
        let f = try NNFixture.load("batchnorm")
        let eps = try f.double("eps"), momentum = try f.double("momentum")
        for p in Precision.all {
            for name in ["train2d", "eval2d", "train1d", "eval1d"] {
                let k = name + "."
                let c = try f.int(k + "num_features")
                let module = try f.string(k + "module")
                let training = try f.string(k + "mode") == "train"
                let bn: BatchNorm = module == "BatchNorm2d" ? BatchNorm2d(c, epsilon: eps, momentum: momentum)
                                                            : BatchNorm1d(c, epsilon: eps, momentum: momentum)
                XCTAssertEqual(bn.epsilon, eps)
                XCTAssertEqual(bn.momentum, momentum)
                retarget(bn, to: p)
                var entries: [String: SafeTensorsEntry] = [:]
                for key in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] {
                    entries[key] = try f.entry(k + key)
                }
                try bn.loadStateDict(entries, strict: true)
                XCTAssertEqual(bn.numBatchesTracked.item(), try f.doubles(k + "num_batches_tracked")[0])
                bn.train(training)

                let x = try f.tensor(k + "input", p).requiringGrad()
                let y = try bn(x)
                try f.check(y, k + "output", p)
                y.backward(gradient: try f.tensor(k + "grad_output", p))
                try f.check(x.grad, k + "grad_input", p)
                try f.check(bn.weight.grad, k + "grad_weight", p)
                try f.check(bn.bias.grad, k + "grad_bias", p)

                let after = training ? "_after" : ""
                try f.check(bn.runningMean, k + "running_mean" + after, p)
                try f.check(bn.runningVar, k + "running_var" + after, p)
                XCTAssertEqual(bn.numBatchesTracked.item(), try f.doubles(k + "num_batches_tracked" + after)[0],
                               "\(k)num_batches_tracked\(after) [\(p)]")
                // The state dict writes num_batches_tracked back as I64, as PyTorch.
                let saved = bn.stateDictEntries()
                XCTAssertEqual(saved["num_batches_tracked"]?.dtype, .i64)
                XCTAssertEqual(try saved["num_batches_tracked"]?.integers(),
                               try f.entry(k + "num_batches_tracked" + after).integers())

                if training {
                    // The functional op also returns the batch statistics (biased variance).
                    let r = try f.tensor(k + "input", p).batchNormTraining(scale: bn.weight.detached(),
                                                                           shift: bn.bias.detached(), epsilon: eps)
                    try f.check(r.output, k + "output", p)
                    try f.check(r.mean, k + "batch_mean", p)
                    try f.check(r.variance, k + "batch_var_biased", p)
                }
            }
        }
    }

    /// Two training steps update the running statistics twice (not once, not from the first batch only).
    func testBatchNormRunningStatisticsAccumulate() throws {
        let f = try NNFixture.load("batchnorm")
        for p in Precision.all {
            let bn = BatchNorm2d(3)
            // PyTorch's initial state (weight 1, bias 0, mean 0, var 1) in the dtype and device of p.
            bn.weight = Module.parameter(Tensor(repeating: 1, shape: [3], dtype: p.dtype, device: p.device))
            bn.bias = Module.parameter(Tensor(zeros: [3], dtype: p.dtype, device: p.device))
            bn.runningMean = Tensor(zeros: [3], dtype: p.dtype, device: p.device)
            bn.runningVar = Tensor(repeating: 1, shape: [3], dtype: p.dtype, device: p.device)
            bn.numBatchesTracked = Tensor(zeros: [], dtype: p.dtype, device: p.device)
            let x = try f.tensor("train2d.input", p)
            let r = x.batchNormTraining(scale: bn.weight.detached(), shift: bn.bias.detached(), epsilon: 1e-5)
            let n = Double(x.count / 3)
            let mean = r.mean.toDoubleArray(), varUnbiased = r.variance.toDoubleArray().map { $0 * n / (n - 1) }
            _ = try Autograd.withNoGrad { try bn(x) }
            _ = try Autograd.withNoGrad { try bn(x) }
            // Running mean after two steps from 0: m·(1-m)·μ + m·μ; variance from 1 likewise.
            let m = 0.1
            let expectedMean = mean.map { (1 - m) * m * $0 + m * $0 }
            let expectedVar = varUnbiased.map { (1 - m) * ((1 - m) * 1 + m * $0) + m * $0 }
            assertClose(bn.runningMean, expectedMean, shape: [3], tolerance: p.tolerance, "running_mean after 2 [\(p)]")
            assertClose(bn.runningVar, expectedVar, shape: [3], tolerance: p.tolerance, "running_var after 2 [\(p)]")
            XCTAssertEqual(bn.numBatchesTracked.item(), 2)
        }
    }

    // MARK: activations

    func testActivationsMatchPyTorch() throws {
        let f = try NNFixture.load("activations")
        let names = Set(f.metadata.keys.filter { $0.hasSuffix(".op") }.map { String($0.dropLast(3)) })
        XCTAssertEqual(names.count, 9, "activation cases in the fixture: \(names.sorted())")
        var checked: Set<String> = []
        for p in Precision.all {
            for name in names.sorted() {
                let op = try f.string(name + ".op")
                let fn: (Tensor) throws -> Tensor
                var layer: Module? = nil
                switch op {
                case "relu": fn = { $0.relu() }; layer = ReLU()
                case "leaky_relu":
                    let slope = try f.double(name + ".negative_slope")
                    fn = { $0.leakyRelu(slope: slope) }; layer = LeakyReLU(negativeSlope: slope)
                case "sigmoid": fn = { $0.sigmoid() }; layer = Sigmoid()
                case "tanh": fn = { $0.tanh() }; layer = Tanh()
                case "gelu":
                    // Tarsier implements only the exact erf form; the tanh approximation has no API yet.
                    guard try f.string(name + ".approximate") == "none" else { continue }
                    fn = { $0.gelu() }; layer = GELU()
                case "softmax":
                    let dim = try f.int(name + ".dim")
                    fn = { $0.softmax(axis: dim) }
                case "log_softmax":
                    let dim = try f.int(name + ".dim")
                    fn = { $0.logSoftmax(axis: dim) }
                default: XCTFail("unknown activation op \(op)"); continue
                }
                checked.insert(name)
                let x = try f.tensor("input", p).requiringGrad()
                let y = try fn(x)
                try f.check(y, name + ".output", p)
                y.backward(gradient: try f.tensor("grad_output", p))
                try f.check(x.grad, name + ".grad_input", p)
                if let layer {
                    let yl = try layer(try f.tensor("input", p))
                    try f.check(yl, name + ".output", p)
                }
            }
        }
        XCTAssertEqual(checked, names.subtracting(["gelu_tanh"]))
    }

    /// Softmax over a non-last axis (the transposing path) against the golden over the last axis.
    func testSoftmaxOverMiddleAxis() throws {
        let f = try NNFixture.load("activations")
        for p in Precision.all {
            for (name, log) in [("softmax", false), ("log_softmax", true)] {
                // Move the last axis to the middle, apply over axis 1, and move it back.
                let x = try f.tensor("input", p).requiringGrad()
                let moved = x.permuted([0, 2, 1])
                let y = (log ? moved.logSoftmax(axis: 1) : moved.softmax(axis: 1)).permuted([0, 2, 1])
                try f.check(y, name + ".output", p)
                y.backward(gradient: try f.tensor("grad_output", p))
                try f.check(x.grad, name + ".grad_input", p)
            }
        }
    }

    // MARK: losses

    func testLossesMatchPyTorch() throws {
        let f = try NNFixture.load("losses")
        let names = Set(f.metadata.keys.filter { $0.hasSuffix(".op") }.map { String($0.dropLast(3)) })
        XCTAssertEqual(names.count, 10, "loss cases in the fixture: \(names.sorted())")
        for p in Precision.all {
            for name in names.sorted() {
                let k = name + "."
                let op = try f.string(k + "op")
                guard let reduction = LossReduction(rawValue: try f.string(k + "reduction")) else {
                    XCTFail("\(name): unknown reduction"); continue
                }
                let weight = f.has(k + "weight") ? try f.tensor(k + "weight", p) : nil
                let x = try f.tensor(k + "input", p).requiringGrad()
                let loss: Tensor
                switch op {
                case "cross_entropy":
                    loss = try Loss.crossEntropy(x, labels: try f.labels(k + "target"), weight: weight,
                                                 labelSmoothing: try f.double(k + "label_smoothing"),
                                                 reduction: reduction)
                case "nll_loss":
                    loss = try Loss.nll(x, labels: try f.labels(k + "target"), weight: weight, reduction: reduction)
                case "binary_cross_entropy_with_logits":
                    let pw = f.has(k + "pos_weight") ? try f.tensor(k + "pos_weight", p) : nil
                    loss = try Loss.binaryCrossEntropyWithLogits(x, targets: try f.tensor(k + "target", p),
                                                                 positiveWeight: pw, reduction: reduction)
                case "mse_loss":
                    loss = try Loss.mse(x, targets: try f.tensor(k + "target", p), reduction: reduction)
                default: XCTFail("unknown loss op \(op)"); continue
                }
                XCTAssertEqual(loss.dtype, p.dtype, "\(name) loss dtype")
                XCTAssertEqual(loss.shape, try f.shape(k + "loss"), "\(name): a reduced loss is 0-d, as PyTorch's")
                try f.check(loss, k + "loss", p)
                loss.backward()
                try f.check(x.grad, k + "grad_input", p)
            }
        }
    }

    /// Loss inputs that do not fit throw instead of trapping.
    func testLossInputErrors() throws {
        let logits = Tensor(shape: [2, 3], data: [Double](repeating: 0, count: 6), device: .reference)
        let e1 = expectError(LossInputError.self, "label out of range") {
            _ = try Loss.crossEntropy(logits, labels: [0, 3])
        }
        XCTAssert(e1?.description.contains("3") ?? false, e1?.description ?? "")
        _ = expectError(LossInputError.self, "label count") { _ = try Loss.crossEntropy(logits, labels: [0]) }
        let t = Tensor(shape: [3, 2], data: [Double](repeating: 0, count: 6), device: .reference)
        _ = expectError(LossInputError.self, "mse shapes") { _ = try Loss.mse(logits, targets: t) }
        _ = expectError(LossInputError.self, "bce shapes") { _ = try Loss.binaryCrossEntropyWithLogits(logits, targets: t) }
    }
}

/// Replaces the parameters and buffers of the parameterised layers in `model` by zero tensors of
/// `p`'s dtype and device (the layers are created as Float32 on the default device); load weights
/// afterwards with `loadStateDict`, which converts into the destination dtype.
func retarget(_ model: Module, to p: Precision) {
    func param(_ t: Tensor) -> Tensor { Module.parameter(Tensor(zeros: t.shape, dtype: p.dtype, device: p.device)) }
    func buffer(_ t: Tensor) -> Tensor { Tensor(zeros: t.shape, dtype: p.dtype, device: p.device) }
    for (_, m) in model.namedModules() {
        if let c = m as? Conv2d {
            c.weight = param(c.weight)
            c.bias = c.bias.map(param)
        } else if let l = m as? Linear {
            l.weight = param(l.weight)
            l.bias = l.bias.map(param)
        } else if let bn = m as? BatchNorm {
            bn.weight = param(bn.weight)
            bn.bias = param(bn.bias)
            bn.runningMean = buffer(bn.runningMean)
            bn.runningVar = buffer(bn.runningVar)
            bn.numBatchesTracked = buffer(bn.numBatchesTracked)
        }
    }
}
