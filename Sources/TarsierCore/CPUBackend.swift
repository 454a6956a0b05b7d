import TarsierCPU

/// The CPU backend: oneDNN kernels for Float32 convolution, pooling, batch norm and matrix
/// products; the reference loops for element-wise work and for Float64.
public final class CPUBackend: ReferenceBackend {
    public override var name: String { "cpu" }

    /// Sets the threads oneDNN uses; call before the first kernel runs.
    public static func setThreadCount(_ count: Int) { DNNL.setThreadCount(count) }

    /// Max-pool state of oneDNN: its opaque workspace.
    final class Workspace: MaxPoolSavedState {
        let bytes: UnsafeMutableRawPointer
        init(byteCount: Int) { bytes = .allocate(byteCount: Swift.max(byteCount, 64), alignment: 64) }
        deinit { bytes.deallocate() }
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

    public override func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) -> Tensor {
        guard x.dtype == .float32 else { return super.conv2d(x, weight: weight, bias: bias, geometry: g) }
        let y = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth], device: x.device)
        DNNL.conv2dForward(g, source: x.storage.floats, weight: weight.storage.floats, bias: bias?.storage.floats,
                           destination: y.storage.floats)
        return y
    }

    public override func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry g: ConvGeometry) -> Tensor {
        guard gradient.dtype == .float32 else { return super.conv2dBackwardData(gradient, weight: weight, geometry: g) }
        let gx = Tensor(uninitialized: [g.batch, g.inChannels, g.inHeight, g.inWidth], device: gradient.device)
        DNNL.conv2dBackwardData(g, destinationGradient: gradient.storage.floats, weight: weight.storage.floats,
                                sourceGradient: gx.storage.floats)
        return gx
    }

    public override func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry g: ConvGeometry,
                                               withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        guard x.dtype == .float32 else {
            return super.conv2dBackwardWeights(x, gradient: gradient, geometry: g, withBias: withBias)
        }
        let gw = Tensor(uninitialized: [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth],
                        device: x.device)
        let gb = withBias ? Tensor(uninitialized: [g.outChannels], device: x.device) : nil
        DNNL.conv2dBackwardWeights(g, source: x.storage.floats, destinationGradient: gradient.storage.floats,
                                   weightGradient: gw.storage.floats, biasGradient: gb?.storage.floats)
        return (gw, gb)
    }

    public override func maxPool2d(_ x: Tensor, geometry g: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        guard x.dtype == .float32 else { return super.maxPool2d(x, geometry: g, training: training) }
        let y = Tensor(uninitialized: [g.batch, g.channels, g.outHeight, g.outWidth], device: x.device)
        let workspace = training ? Workspace(byteCount: DNNL.maxPoolWorkspaceByteCount(g)) : nil
        DNNL.maxPool2dForward(g, source: x.storage.floats, destination: y.storage.floats, workspace: workspace?.bytes)
        return (y, workspace)
    }

    public override func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry g: PoolGeometry) -> Tensor {
        guard let workspace = saved as? Workspace else {
            return super.maxPool2dBackward(gradient, saved: saved, geometry: g)
        }
        let gx = Tensor(uninitialized: [g.batch, g.channels, g.inHeight, g.inWidth], device: gradient.device)
        DNNL.maxPool2dBackward(g, destinationGradient: gradient.storage.floats, workspace: workspace.bytes,
                               sourceGradient: gx.storage.floats)
        return gx
    }

    public override func avgPool2d(_ x: Tensor, geometry g: PoolGeometry) -> Tensor {
        guard x.dtype == .float32 else { return super.avgPool2d(x, geometry: g) }
        let y = Tensor(uninitialized: [g.batch, g.channels, g.outHeight, g.outWidth], device: x.device)
        DNNL.avgPool2dForward(g, source: x.storage.floats, destination: y.storage.floats)
        return y
    }

    public override func avgPool2dBackward(_ gradient: Tensor, geometry g: PoolGeometry) -> Tensor {
        guard gradient.dtype == .float32 else { return super.avgPool2dBackward(gradient, geometry: g) }
        let gx = Tensor(uninitialized: [g.batch, g.channels, g.inHeight, g.inWidth], device: gradient.device)
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
        guard x.dtype == .float32 else { return super.batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon) }
        let (n, c, s) = normSizes(x)
        let y = Tensor(uninitialized: x.shape, device: x.device)
        let mean = Tensor(uninitialized: [c], device: x.device)
        let variance = Tensor(uninitialized: [c], device: x.device)
        DNNL.batchNormForwardTraining(batch: n, channels: c, spatial: s, epsilon: Float(epsilon), source: x.storage.floats,
                                      scale: scale.storage.floats, shift: shift.storage.floats,
                                      destination: y.storage.floats, mean: mean.storage.floats,
                                      variance: variance.storage.floats)
        return (y, mean, variance)
    }

    public override func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                                            epsilon: Double) -> Tensor {
        guard x.dtype == .float32 else {
            return super.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
        }
        let (n, c, s) = normSizes(x)
        let y = Tensor(uninitialized: x.shape, device: x.device)
        DNNL.batchNormForwardInference(batch: n, channels: c, spatial: s, epsilon: Float(epsilon),
                                       source: x.storage.floats, scale: scale.storage.floats,
                                       shift: shift.storage.floats, mean: mean.storage.floats,
                                       variance: variance.storage.floats, destination: y.storage.floats)
        return y
    }

    public override func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                                           epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        guard x.dtype == .float32 else {
            return super.batchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance,
                                           epsilon: epsilon)
        }
        let (n, c, s) = normSizes(x)
        let gx = Tensor(uninitialized: x.shape, device: x.device)
        let gScale = Tensor(uninitialized: [c], device: x.device)
        let gShift = Tensor(uninitialized: [c], device: x.device)
        DNNL.batchNormBackward(batch: n, channels: c, spatial: s, epsilon: Float(epsilon), source: x.storage.floats,
                               destinationGradient: gradient.storage.floats, scale: scale.storage.floats,
                               mean: mean.storage.floats, variance: variance.storage.floats,
                               sourceGradient: gx.storage.floats, scaleGradient: gScale.storage.floats,
                               shiftGradient: gShift.storage.floats)
        return (gx, gScale, gShift)
    }
}
