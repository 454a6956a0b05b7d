import TarsierCPU

/// The plain-Swift backend: straightforward loops in Float32 and Float64 that define what every
/// op computes. Tests check faster backends against it and run finite-difference gradient checks
/// on it in Float64.
public class ReferenceBackend: Backend {
    public init() {}

    public var name: String { "reference" }

    public var prefersChannelsLast: Bool { false }

    public var prefersChannelBlocked: Bool { false }

    /// Runs `body` with the element type of `dtype`.
    @inline(__always)
    func dispatch<R>(_ dtype: DType, _ float: () -> R, _ double: () -> R) -> R {
        dtype == .float32 ? float() : double()
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
        dispatch(x.dtype, {
            Kernels.unary(op, x.storage.floats, y.storage.floats, x.count)
        }, {
            Kernels.unary(op, x.storage.doubles, y.storage.doubles, x.count)
        })
        return y
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor {
        precondition(a.dtype == b.dtype, "binary \(op): dtypes \(a.dtype) and \(b.dtype) differ")
        let y = Tensor(uninitialized: outputShape, dtype: a.dtype, device: a.device)
        dispatch(a.dtype, {
            Kernels.binary(op, a.storage.floats, a.shape, b.storage.floats, b.shape, y.storage.floats, outputShape)
        }, {
            Kernels.binary(op, a.storage.doubles, a.shape, b.storage.doubles, b.shape, y.storage.doubles, outputShape)
        })
        return y
    }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int]) -> Tensor {
        var outShape = x.shape
        for a in axes { outShape[a] = 1 }
        let y = Tensor(uninitialized: outShape, dtype: x.dtype, device: x.device)
        dispatch(x.dtype, {
            Kernels.reduce(op, x.storage.floats, x.shape, y.storage.floats, outShape)
        }, {
            Kernels.reduce(op, x.storage.doubles, x.shape, y.storage.doubles, outShape)
        })
        return y
    }

    public func argmax(_ x: Tensor, axis: Int) -> [Int] {
        dispatch(x.dtype, {
            Kernels.argmax(x.storage.floats, x.shape, axis: axis)
        }, {
            Kernels.argmax(x.storage.doubles, x.shape, axis: axis)
        })
    }

    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let n = transposeB ? b.shape[0] : b.shape[1]
        let y = Tensor(uninitialized: [m, n], dtype: a.dtype, device: a.device)
        dispatch(a.dtype, {
            Kernels.matmul(a.storage.floats, b.storage.floats, y.storage.floats, m: m, n: n, k: k,
                           transposeA: transposeA, transposeB: transposeB)
        }, {
            Kernels.matmul(a.storage.doubles, b.storage.doubles, y.storage.doubles, m: m, n: n, k: k,
                           transposeA: transposeA, transposeB: transposeB)
        })
        return y
    }

    public func softmax(_ x: Tensor, log: Bool) -> Tensor {
        let y = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
        let cols = x.shape.last ?? 1
        let rows = x.count / Swift.max(cols, 1)
        dispatch(x.dtype, {
            Kernels.softmax(x.storage.floats, y.storage.floats, rows: rows, cols: cols, log: log)
        }, {
            Kernels.softmax(x.storage.doubles, y.storage.doubles, rows: rows, cols: cols, log: log)
        })
        return y
    }

    public func softmaxBackward(output y: Tensor, gradient: Tensor, log: Bool) -> Tensor {
        let gx = Tensor(uninitialized: y.shape, dtype: y.dtype, device: y.device)
        let cols = y.shape.last ?? 1
        let rows = y.count / Swift.max(cols, 1)
        dispatch(y.dtype, {
            Kernels.softmaxBackward(y.storage.floats, gradient.storage.floats, gx.storage.floats,
                                    rows: rows, cols: cols, log: log)
        }, {
            Kernels.softmaxBackward(y.storage.doubles, gradient.storage.doubles, gx.storage.doubles,
                                    rows: rows, cols: cols, log: log)
        })
        return gx
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, relu: Bool) -> Tensor {
        let y = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth], dtype: x.dtype,
                       device: x.device)
        dispatch(x.dtype, {
            ConvKernels.forward(g, x.storage.floats, weight.storage.floats, bias?.storage.floats, y.storage.floats)
        }, {
            ConvKernels.forward(g, x.storage.doubles, weight.storage.doubles, bias?.storage.doubles, y.storage.doubles)
        })
        return relu ? unary(.relu, y) : y
    }

    public func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry g: ConvGeometry) -> Tensor {
        let gx = Tensor(zeros: [g.batch, g.inChannels, g.inHeight, g.inWidth], dtype: gradient.dtype,
                        device: gradient.device)
        dispatch(gradient.dtype, {
            ConvKernels.backwardData(g, gradient.storage.floats, weight.storage.floats, gx.storage.floats)
        }, {
            ConvKernels.backwardData(g, gradient.storage.doubles, weight.storage.doubles, gx.storage.doubles)
        })
        return gx
    }

    public func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry g: ConvGeometry,
                                      withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        let gw = Tensor(zeros: [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth],
                        dtype: x.dtype, device: x.device)
        let gb = withBias ? Tensor(zeros: [g.outChannels], dtype: x.dtype, device: x.device) : nil
        dispatch(x.dtype, {
            ConvKernels.backwardWeights(g, x.storage.floats, gradient.storage.floats, gw.storage.floats,
                                        gb?.storage.floats)
        }, {
            ConvKernels.backwardWeights(g, x.storage.doubles, gradient.storage.doubles, gw.storage.doubles,
                                        gb?.storage.doubles)
        })
        return (gw, gb)
    }

    /// The definition of the channel-blocked convolution: unblock, convolve, add, block.
    public func channelBlockedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                                     relu: Bool, residual: Tensor?) -> Tensor {
        var plain = g
        (plain.sourceLayout, plain.destinationLayout) = (.rowMajor, .rowMajor)
        let source = x.rank == 5 ? x.channelUnblocked() : x.contiguous()
        var y = conv2d(source, weight: weight, bias: bias, geometry: plain, relu: relu && residual == nil)
        if let residual {
            y = binary(relu ? .addReLU : .add, y, residual.channelUnblocked(), outputShape: y.shape)
        }
        return y.channelBlocked()
    }

    /// The definition of channel-blocked max pooling: unblock, pool, block.
    public func channelBlockedMaxPool2d(_ x: Tensor, geometry g: PoolGeometry) -> Tensor {
        var plain = g
        plain.layout = .rowMajor
        return maxPool2d(x.channelUnblocked(), geometry: plain, training: false).0.channelBlocked()
    }

    /// Max-pool state of the reference backend: the flat input index of each output's maximum.
    final class ArgmaxIndices: MaxPoolSavedState {
        let indices: [Int]
        init(_ indices: [Int]) { self.indices = indices }
    }

    public func maxPool2d(_ x: Tensor, geometry g: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        let y = Tensor(uninitialized: [g.batch, g.channels, g.outHeight, g.outWidth], dtype: x.dtype,
                       device: x.device)
        let indices = dispatch(x.dtype, {
            PoolKernels.maxForward(g, x.storage.floats, y.storage.floats)
        }, {
            PoolKernels.maxForward(g, x.storage.doubles, y.storage.doubles)
        })
        return (y, training ? ArgmaxIndices(indices) : nil)
    }

    public func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry g: PoolGeometry) -> Tensor {
        guard let argmax = saved as? ArgmaxIndices else {
            preconditionFailure("max-pool state from another backend")
        }
        let gx = Tensor(zeros: [g.batch, g.channels, g.inHeight, g.inWidth], dtype: gradient.dtype,
                        device: gradient.device)
        dispatch(gradient.dtype, {
            for (o, i) in argmax.indices.enumerated() { gx.storage.floats[i] += gradient.storage.floats[o] }
        }, {
            for (o, i) in argmax.indices.enumerated() { gx.storage.doubles[i] += gradient.storage.doubles[o] }
        })
        return gx
    }

    public func avgPool2d(_ x: Tensor, geometry g: PoolGeometry) -> Tensor {
        let y = Tensor(uninitialized: [g.batch, g.channels, g.outHeight, g.outWidth], dtype: x.dtype,
                       device: x.device)
        dispatch(x.dtype, {
            PoolKernels.average(g, x.storage.floats, y.storage.floats, backward: false)
        }, {
            PoolKernels.average(g, x.storage.doubles, y.storage.doubles, backward: false)
        })
        return y
    }

    public func avgPool2dBackward(_ gradient: Tensor, geometry g: PoolGeometry) -> Tensor {
        let gx = Tensor(zeros: [g.batch, g.channels, g.inHeight, g.inWidth], dtype: gradient.dtype,
                        device: gradient.device)
        dispatch(gradient.dtype, {
            PoolKernels.average(g, gx.storage.floats, gradient.storage.floats, backward: true)
        }, {
            PoolKernels.average(g, gx.storage.doubles, gradient.storage.doubles, backward: true)
        })
        return gx
    }

    public func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let c = x.shape[1]
        let y = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
        let mean = Tensor(zeros: [c], dtype: x.dtype, device: x.device)
        let variance = Tensor(zeros: [c], dtype: x.dtype, device: x.device)
        let spatial = x.count / Swift.max(x.shape[0] * c, 1)
        dispatch(x.dtype, {
            NormKernels.statistics(x.storage.floats, batch: x.shape[0], channels: c, spatial: spatial,
                                   mean: mean.storage.floats, variance: variance.storage.floats)
            NormKernels.normalize(x.storage.floats, batch: x.shape[0], channels: c, spatial: spatial,
                                  scale: scale.storage.floats, shift: shift.storage.floats,
                                  mean: mean.storage.floats, variance: variance.storage.floats,
                                  epsilon: Float(epsilon), y.storage.floats)
        }, {
            NormKernels.statistics(x.storage.doubles, batch: x.shape[0], channels: c, spatial: spatial,
                                   mean: mean.storage.doubles, variance: variance.storage.doubles)
            NormKernels.normalize(x.storage.doubles, batch: x.shape[0], channels: c, spatial: spatial,
                                  scale: scale.storage.doubles, shift: shift.storage.doubles,
                                  mean: mean.storage.doubles, variance: variance.storage.doubles,
                                  epsilon: epsilon, y.storage.doubles)
        })
        return (y, mean, variance)
    }

    public func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                                   epsilon: Double) -> Tensor {
        let c = x.shape[1]
        let spatial = x.count / Swift.max(x.shape[0] * c, 1)
        let y = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
        dispatch(x.dtype, {
            NormKernels.normalize(x.storage.floats, batch: x.shape[0], channels: c, spatial: spatial,
                                  scale: scale.storage.floats, shift: shift.storage.floats,
                                  mean: mean.storage.floats, variance: variance.storage.floats,
                                  epsilon: Float(epsilon), y.storage.floats)
        }, {
            NormKernels.normalize(x.storage.doubles, batch: x.shape[0], channels: c, spatial: spatial,
                                  scale: scale.storage.doubles, shift: shift.storage.doubles,
                                  mean: mean.storage.doubles, variance: variance.storage.doubles,
                                  epsilon: epsilon, y.storage.doubles)
        })
        return y
    }

    /// The reference's fused batch norm + ReLU state: the output, whose positive entries are
    /// the ones ReLU kept.
    final class ReLUOutput: BatchNormReLUSavedState {
        let output: Tensor
        init(_ output: Tensor) { self.output = output }
    }

    /// Batch norm, then ReLU as a separate pass.
    public func batchNormReLUTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor, saved: BatchNormReLUSavedState) {
        let r = batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon)
        let y = unary(.relu, r.output)
        return (y, r.mean, r.variance, ReLUOutput(y))
    }

    /// Masks the gradient with the saved output, then differentiates batch norm.
    public func batchNormReLUBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                                      epsilon: Double, saved: BatchNormReLUSavedState)
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        guard let saved = saved as? ReLUOutput else {
            preconditionFailure("batchNormReLUBackward: state from another backend (\(type(of: saved)))")
        }
        let masked = binary(.reluBackward, saved.output, gradient, outputShape: gradient.shape)
        return batchNormBackward(x, gradient: masked, scale: scale, mean: mean, variance: variance, epsilon: epsilon)
    }

    public func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                                  epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let c = x.shape[1]
        let spatial = x.count / Swift.max(x.shape[0] * c, 1)
        let gx = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
        let gScale = Tensor(zeros: [c], dtype: x.dtype, device: x.device)
        let gShift = Tensor(zeros: [c], dtype: x.dtype, device: x.device)
        dispatch(x.dtype, {
            NormKernels.backward(x.storage.floats, gradient.storage.floats, batch: x.shape[0], channels: c,
                                 spatial: spatial, scale: scale.storage.floats, mean: mean.storage.floats,
                                 variance: variance.storage.floats, epsilon: Float(epsilon),
                                 gx.storage.floats, gScale.storage.floats, gShift.storage.floats)
        }, {
            NormKernels.backward(x.storage.doubles, gradient.storage.doubles, batch: x.shape[0], channels: c,
                                 spatial: spatial, scale: scale.storage.doubles, mean: mean.storage.doubles,
                                 variance: variance.storage.doubles, epsilon: epsilon,
                                 gx.storage.doubles, gScale.storage.doubles, gShift.storage.doubles)
        })
        return (gx, gScale, gShift)
    }
}
