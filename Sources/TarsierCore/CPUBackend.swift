@_exported import struct TarsierCPU.ConvolutionPasses
import TarsierCPU

/// The CPU backend: oneDNN kernels for Float32 convolution, pooling, batch norm and matrix
/// products; the reference loops for element-wise work and for Float64.
public final class CPUBackend: ReferenceBackend {
    public override var name: String { "cpu" }

    /// oneDNN runs NHWC natively: activations stay channels-last between layers.
    public override var prefersChannelsLast: Bool { true }

    /// oneDNN's AVX-512 kernels run nChw16c natively (its Winograd kernels only that).
    public override var prefersChannelBlocked: Bool { true }

    /// An output in the layout of `like` (channels-last when it is).
    private func output(_ shape: [Int], like x: Tensor) -> Tensor {
        x.isChannelsLast && shape.count == 4 ? Tensor(channelsLastUninitialized: shape, device: x.device)
            : Tensor(uninitialized: shape, device: x.device)
    }

    /// The geometry with the layout flag of `x`.
    private func layout(_ g: ConvGeometry, _ x: Tensor) -> ConvGeometry {
        var g = g
        g.channelsLast = x.isChannelsLast
        return g
    }

    private func layout(_ g: PoolGeometry, _ x: Tensor) -> PoolGeometry {
        var g = g
        g.channelsLast = x.isChannelsLast
        return g
    }

    /// Sets the threads oneDNN uses; call before the first kernel runs.
    public static func setThreadCount(_ count: Int) { DNNL.setThreadCount(count) }

    /// The convolution passes run in mixed precision: bf16 operands, Float32 accumulation and
    /// results (as PyTorch's CPU autocast). Everything else stays Float32.
    public static var bfloat16Convolutions: ConvolutionPasses {
        get { DNNL.bfloat16Convolutions }
        set { DNNL.bfloat16Convolutions = newValue }
    }

    /// Whether Float32 3x3 stride-1 convolutions large enough to gain use Winograd F(4x4, 3x3)
    /// (default on; `TARSIER_WINOGRAD=off` in the environment turns it off for a process).
    public static var winogradConvolutions: Bool {
        get { DNNL.winogradConvolutions }
        set { DNNL.winogradConvolutions = newValue }
    }

    /// True when the CPU computes bf16 natively (AVX512-BF16 or AMX).
    public static var hasNativeBFloat16: Bool { DNNL.hasNativeBFloat16 }

    /// Max-pool state for the backward pass: `ChannelsLastMaxPool`'s argmax bytes where it
    /// applies to the geometry, else oneDNN's opaque workspace. Taken from the buffer pool: a
    /// training step makes the same ones every time.
    final class Workspace: MaxPoolSavedState {
        let bytes: UnsafeMutableRawPointer
        private let byteCount: Int
        init(byteCount: Int) {
            self.byteCount = Swift.max(byteCount, 64)
            bytes = BufferPool.shared.take(byteCount: self.byteCount)
        }
        deinit { BufferPool.shared.give(bytes, byteCount: byteCount) }
    }

    /// Below this many elements the plain loops beat a oneDNN call.
    static let parallelElementwiseThreshold = 1 << 15

    public override func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor {
        guard x.dtype == .float32, x.count >= CPUBackend.parallelElementwiseThreshold else { return super.unary(op, x) }
        let function: EltwiseFunction
        switch op {
        case .relu: function = .relu(slope: 0)
        case .leakyRelu(let slope): function = .relu(slope: Float(slope))
        case .sigmoid: function = .sigmoid
        case .tanh: function = .tanh
        case .gelu: function = .gelu
        default: return super.unary(op, x)
        }
        let y = Tensor(uninitialized: x.shape, device: x.device)
        DNNL.eltwiseForward(function, count: x.count, source: x.storage.floats, destination: y.storage.floats)
        return y
    }

    public override func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor {
        let n = outputShape.reduce(1, *)
        guard a.dtype == .float32, b.dtype == .float32, n >= CPUBackend.parallelElementwiseThreshold,
              a.count == n, b.count == n else {
            return super.binary(op, a, b, outputShape: outputShape)
        }
        let y = Tensor(uninitialized: outputShape, device: a.device)
        let (pa, pb, py) = (a.storage.floats, b.storage.floats, y.storage.floats)
        switch op {
        case .add: DNNL.binary(.add, count: n, a: pa, b: pb, destination: py)
        case .multiply: DNNL.binary(.multiply, count: n, a: pa, b: pb, destination: py)
        case .addReLU: DNNL.binary(.addReLU, count: n, a: pa, b: pb, destination: py)
        // The fused activation derivatives: `a` is the saved forward value, `b` the gradient.
        case .reluBackward:
            DNNL.eltwiseBackward(.relu(slope: 0), count: n, saved: pa, destinationGradient: pb, sourceGradient: py)
        case .leakyReluBackward(let slope):
            DNNL.eltwiseBackward(.relu(slope: Float(slope)), count: n, saved: pa, destinationGradient: pb, sourceGradient: py)
        case .sigmoidBackward:
            DNNL.eltwiseBackward(.sigmoid, count: n, saved: pa, destinationGradient: pb, sourceGradient: py)
        case .tanhBackward:
            DNNL.eltwiseBackward(.tanh, count: n, saved: pa, destinationGradient: pb, sourceGradient: py)
        case .geluBackward:
            DNNL.eltwiseBackward(.gelu, count: n, saved: pa, destinationGradient: pb, sourceGradient: py)
        default:
            return super.binary(op, a, b, outputShape: outputShape)
        }
        return y
    }

    public override func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        guard a.dtype == .float32 else { return super.matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let n = transposeB ? b.shape[0] : b.shape[1]
        let y = Tensor(uninitialized: [m, n], dtype: .float32, device: a.device)
        DNNL.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                   a: a.storage.floats, lda: a.shape[1], b: b.storage.floats, ldb: b.shape[1], beta: 0,
                   c: y.storage.floats, ldc: n)
        return y
    }

    public override func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, relu: Bool) -> Tensor {
        guard x.dtype == .float32 else {
            return super.conv2d(x.contiguous(), weight: weight, bias: bias, geometry: geometry, relu: relu)
        }
        let g = layout(geometry, x)
        let y = output([g.batch, g.outChannels, g.outHeight, g.outWidth], like: x)
        // Without recording no backward pass follows; a parameter's (a leaf's) reordered weight
        // can then be kept between calls, keyed by its storage's version.
        var inferenceWeight: OperandVersion?
        if !Autograd.isRecording, weight.gradNode?.isLeaf == true {
            inferenceWeight = version(of: weight)
        }
        DNNL.conv2dForward(g, source: x.storage.floats, weight: weight.storage.floats, bias: bias?.storage.floats,
                           destination: y.storage.floats, relu: relu, inferenceWeight: inferenceWeight)
        return y
    }

    public override func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
        guard gradient.dtype == .float32 else {
            return super.conv2dBackwardData(gradient.contiguous(), weight: weight, geometry: geometry)
        }
        let g = layout(geometry, gradient)
        let gx = output([g.batch, g.inChannels, g.inHeight, g.inWidth], like: gradient)
        DNNL.conv2dBackwardData(g, destinationGradient: gradient.storage.floats, weight: weight.storage.floats,
                                sourceGradient: gx.storage.floats, destinationGradientVersion: version(of: gradient))
        return gx
    }

    public override func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry: ConvGeometry,
                                               withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        guard x.dtype == .float32 else {
            return super.conv2dBackwardWeights(x.contiguous(), gradient: gradient.contiguous(), geometry: geometry,
                                               withBias: withBias)
        }
        // oneDNN is told one layout for both: the one `x.isChannelsLast` selects.
        precondition(x.isChannelsLast ? gradient.isChannelsLast : gradient.isContiguous,
                     "conv2d backward weights: the gradient is not in the input's layout")
        let g = layout(geometry, x)
        let gw = Tensor(uninitialized: [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth],
                        device: x.device)
        let gb = withBias ? Tensor(uninitialized: [g.outChannels], device: x.device) : nil
        DNNL.conv2dBackwardWeights(g, source: x.storage.floats, destinationGradient: gradient.storage.floats,
                                   weightGradient: gw.storage.floats, biasGradient: gb?.storage.floats,
                                   destinationGradientVersion: version(of: gradient))
        return (gw, gb)
    }

    /// Identifies `t`'s contents for kernels that keep derived copies of it.
    private func version(of t: Tensor) -> OperandVersion {
        OperandVersion(identity: t.storage.identity, offset: t.offset, version: t.storage.version)
    }

    public override func channelBlockedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry,
                                              relu: Bool, residual: Tensor?) -> Tensor {
        guard x.dtype == .float32, geometry.groups == 1 else {
            return super.channelBlockedConv2d(x, weight: weight, bias: bias, geometry: geometry, relu: relu,
                                              residual: residual)
        }
        var g = geometry
        g.sourceLayout = x.rank == 5 ? .channelBlocked : (x.isChannelsLast ? .channelsLast : .rowMajor)
        g.destinationLayout = .channelBlocked
        // The shortcut's buffer receives the sum in place: one pass fewer than adding afterwards.
        let y = residual ?? Tensor(uninitialized: [g.batch, g.outChannels / ActivationLayout.channelBlock,
                                                   g.outHeight, g.outWidth, ActivationLayout.channelBlock],
                                   device: x.device)
        y.storage.noteMutation()
        let inferenceWeight = weight.gradNode?.isLeaf == true ? version(of: weight) : nil
        DNNL.conv2dForward(g, source: x.storage.floats, weight: weight.storage.floats, bias: bias?.storage.floats,
                           destination: y.storage.floats, relu: relu, inferenceWeight: inferenceWeight,
                           accumulate: residual != nil)
        return y
    }

    public override func channelBlockedMaxPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor {
        guard x.dtype == .float32 else { return super.channelBlockedMaxPool2d(x, geometry: geometry) }
        var g = geometry
        g.layout = .channelBlocked
        let y = Tensor(uninitialized: [g.batch, g.channels / ActivationLayout.channelBlock, g.outHeight, g.outWidth,
                                       ActivationLayout.channelBlock], device: x.device)
        DNNL.maxPool2dForward(g, source: x.storage.floats, destination: y.storage.floats, workspace: nil)
        return y
    }

    public override func maxPool2d(_ x: Tensor, geometry: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        guard x.dtype == .float32 else { return super.maxPool2d(x.contiguous(), geometry: geometry, training: training) }
        let g = layout(geometry, x)
        let y = output([g.batch, g.channels, g.outHeight, g.outWidth], like: x)
        if ChannelsLastMaxPool.applies(g) {
            let argmax = training ? Workspace(byteCount: y.count) : nil
            ChannelsLastMaxPool.forward(g, source: x.storage.floats, destination: y.storage.floats,
                                        argmax: argmax?.bytes.assumingMemoryBound(to: UInt8.self),
                                        threads: DNNL.threadCount)
            return (y, argmax)
        }
        let workspace = training ? Workspace(byteCount: DNNL.maxPoolWorkspaceByteCount(g)) : nil
        DNNL.maxPool2dForward(g, source: x.storage.floats, destination: y.storage.floats, workspace: workspace?.bytes)
        return (y, workspace)
    }

    public override func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry: PoolGeometry) -> Tensor {
        guard let workspace = saved as? Workspace else {
            return super.maxPool2dBackward(gradient.contiguous(), saved: saved, geometry: geometry)
        }
        let g = layout(geometry, gradient)
        let gx = output([g.batch, g.channels, g.inHeight, g.inWidth], like: gradient)
        if ChannelsLastMaxPool.applies(g) {
            ChannelsLastMaxPool.backward(g, argmax: workspace.bytes.assumingMemoryBound(to: UInt8.self),
                                         destinationGradient: gradient.storage.floats,
                                         sourceGradient: gx.storage.floats, threads: DNNL.threadCount)
            return gx
        }
        DNNL.maxPool2dBackward(g, destinationGradient: gradient.storage.floats, workspace: workspace.bytes,
                               sourceGradient: gx.storage.floats)
        return gx
    }

    public override func avgPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor {
        guard x.dtype == .float32 else { return super.avgPool2d(x.contiguous(), geometry: geometry) }
        let g = layout(geometry, x)
        let y = output([g.batch, g.channels, g.outHeight, g.outWidth], like: x)
        DNNL.avgPool2dForward(g, source: x.storage.floats, destination: y.storage.floats)
        return y
    }

    public override func avgPool2dBackward(_ gradient: Tensor, geometry: PoolGeometry) -> Tensor {
        guard gradient.dtype == .float32 else { return super.avgPool2dBackward(gradient.contiguous(), geometry: geometry) }
        let g = layout(geometry, gradient)
        let gx = output([g.batch, g.channels, g.inHeight, g.inWidth], like: gradient)
        DNNL.avgPool2dBackward(g, destinationGradient: gradient.storage.floats, sourceGradient: gx.storage.floats)
        return gx
    }

    /// [N, C, spatial] sizes of a batch-norm input.
    private func normSizes(_ x: Tensor) -> (Int, Int, Int) {
        let c = x.shape[1]
        return (x.shape[0], c, x.count / Swift.max(x.shape[0] * c, 1))
    }

    public override func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor) {
        guard x.dtype == .float32 else {
            return super.batchNormTraining(x.contiguous(), scale: scale, shift: shift, epsilon: epsilon)
        }
        return oneDNNBatchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon, reluWorkspace: nil)
    }

    /// oneDNN's training-mode batch norm, with ReLU fused when `reluWorkspace` is given.
    private func oneDNNBatchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double,
                                         reluWorkspace: UnsafeMutableRawPointer?)
        -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let (n, c, s) = normSizes(x)
        let y = output(x.shape, like: x)
        let mean = Tensor(uninitialized: [c], device: x.device)
        let variance = Tensor(uninitialized: [c], device: x.device)
        DNNL.batchNormForwardTraining(batch: n, channels: c, spatial: s, epsilon: Float(epsilon),
                                      channelsLast: x.isChannelsLast, source: x.storage.floats,
                                      scale: scale.storage.floats, shift: shift.storage.floats,
                                      destination: y.storage.floats, mean: mean.storage.floats,
                                      variance: variance.storage.floats, reluWorkspace: reluWorkspace)
        return (y, mean, variance)
    }

    /// oneDNN's batch-norm backward pass, dropping the gradients a fused ReLU zeroed when
    /// `reluWorkspace` is given.
    private func oneDNNBatchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor,
                                         variance: Tensor, epsilon: Double, reluWorkspace: UnsafeRawPointer?)
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let (n, c, s) = normSizes(x)
        let gx = output(x.shape, like: x)
        let gScale = Tensor(uninitialized: [c], device: x.device)
        let gShift = Tensor(uninitialized: [c], device: x.device)
        DNNL.batchNormBackward(batch: n, channels: c, spatial: s, epsilon: Float(epsilon),
                               channelsLast: x.isChannelsLast, source: x.storage.floats,
                               destinationGradient: gradient.storage.floats, scale: scale.storage.floats,
                               mean: mean.storage.floats, variance: variance.storage.floats,
                               sourceGradient: gx.storage.floats, scaleGradient: gScale.storage.floats,
                               shiftGradient: gShift.storage.floats, reluWorkspace: reluWorkspace)
        return (gx, gScale, gShift)
    }

    public override func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                                            epsilon: Double) -> Tensor {
        guard x.dtype == .float32 else {
            return super.batchNormInference(x.contiguous(), scale: scale, shift: shift, mean: mean, variance: variance,
                                            epsilon: epsilon)
        }
        let (n, c, s) = normSizes(x)
        let y = output(x.shape, like: x)
        DNNL.batchNormForwardInference(batch: n, channels: c, spatial: s, epsilon: Float(epsilon),
                                       channelsLast: x.isChannelsLast,
                                       source: x.storage.floats, scale: scale.storage.floats,
                                       shift: shift.storage.floats, mean: mean.storage.floats,
                                       variance: variance.storage.floats, destination: y.storage.floats)
        return y
    }

    /// oneDNN's record of which outputs a fused batch norm + ReLU zeroed.
    final class BatchNormReLUWorkspace: BatchNormReLUSavedState {
        let bytes: UnsafeMutableRawPointer
        init(byteCount: Int) { bytes = .allocate(byteCount: Swift.max(byteCount, 64), alignment: 64) }
        deinit { bytes.deallocate() }
    }

    /// Batch norm and ReLU in one oneDNN pass (`fuse_norm_relu`); the backward pass drops the
    /// zeroed outputs' gradients inside oneDNN's batch-norm backward, so neither direction pays
    /// a separate ReLU pass over the activations.
    public override func batchNormReLUTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor, saved: BatchNormReLUSavedState) {
        guard x.dtype == .float32 else {
            return super.batchNormReLUTraining(x.contiguous(), scale: scale, shift: shift, epsilon: epsilon)
        }
        let (n, c, s) = normSizes(x)
        let workspace = BatchNormReLUWorkspace(byteCount: DNNL.batchNormReLUWorkspaceByteCount(
            batch: n, channels: c, spatial: s, epsilon: Float(epsilon), channelsLast: x.isChannelsLast))
        let r = oneDNNBatchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon, reluWorkspace: workspace.bytes)
        return (r.output, r.mean, r.variance, workspace)
    }

    public override func batchNormReLUBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor,
                                               variance: Tensor, epsilon: Double, saved: BatchNormReLUSavedState)
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        guard let workspace = saved as? BatchNormReLUWorkspace, x.dtype == .float32 else {
            return super.batchNormReLUBackward(x.contiguous(), gradient: gradient.contiguous(), scale: scale, mean: mean,
                                               variance: variance, epsilon: epsilon, saved: saved)
        }
        return oneDNNBatchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance,
                                       epsilon: epsilon, reluWorkspace: workspace.bytes)
    }

    public override func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                                           epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        guard x.dtype == .float32 else {
            return super.batchNormBackward(x.contiguous(), gradient: gradient.contiguous(), scale: scale, mean: mean,
                                           variance: variance, epsilon: epsilon)
        }
        return oneDNNBatchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance,
                                       epsilon: epsilon, reluWorkspace: nil)
    }
}
