import TarsierCPU

/// Wraps a backend and counts floating-point operations of the heavy kernels, as
/// `ProfilingBackend` counts time: convolutions (`ConvGeometry.flops`, multiply-adds × 2) and matrix
/// products (2·m·n·k). Element-wise work, pooling, batch norm and softmax are not counted, matching
/// the usual "GFLOPs" figures quoted for torchvision models (which are 2 × MACs of conv and linear
/// layers). Backward convolutions count as much as the forward one each (data and weights passes).
///
///     let counter = FlopCountingBackend(wrapping: Device.cpu.backend)
///     _ = try model(input.to(Device(backend: counter)))
///     print(Double(counter.flops) / 1e9, "GFLOPs")
public final class FlopCountingBackend: Backend {
    /// The backend doing the work.
    public let inner: any Backend
    private var count = 0
    private let lock = SpinLock()

    public init(wrapping inner: any Backend) { self.inner = inner }

    /// Floating-point operations counted so far. Setting it (usually to 0) resets the count.
    public var flops: Int {
        get { lock.withLock { count } }
        set { lock.withLock { count = newValue } }
    }

    /// Sets the count back to zero.
    public func reset() { flops = 0 }

    private func add(_ n: Int) { lock.withLock { count += n } }

    /// 2·m·n·k for `op(a) · op(b)` with rank-2 operands.
    static func matmulFlops(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Int {
        guard a.rank == 2, b.rank == 2 else { return 0 }
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let n = transposeB ? b.shape[0] : b.shape[1]
        return 2 * m * n * k
    }

    public var name: String { "flops(\(inner.name))" }
    public var prefersChannelsLast: Bool { inner.prefersChannelsLast }

    public func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor { inner.unary(op, x) }
    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor {
        inner.binary(op, a, b, outputShape: outputShape)
    }
    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int]) -> Tensor { inner.reduce(op, x, axes: axes) }
    public func argmax(_ x: Tensor, axis: Int) -> [Int] { inner.argmax(x, axis: axis) }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        add(Self.matmulFlops(a, b, transposeA: transposeA, transposeB: transposeB))
        return inner.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
    }
    public func softmax(_ x: Tensor, log: Bool) -> Tensor { inner.softmax(x, log: log) }
    public func softmaxBackward(output y: Tensor, gradient: Tensor, log: Bool) -> Tensor {
        inner.softmaxBackward(output: y, gradient: gradient, log: log)
    }
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) -> Tensor {
        add(geometry.flops)
        return inner.conv2d(x, weight: weight, bias: bias, geometry: geometry)
    }
    public func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
        add(geometry.flops)
        return inner.conv2dBackwardData(gradient, weight: weight, geometry: geometry)
    }
    public func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry: ConvGeometry, withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        add(geometry.flops)
        return inner.conv2dBackwardWeights(x, gradient: gradient, geometry: geometry, withBias: withBias)
    }
    public func maxPool2d(_ x: Tensor, geometry: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        inner.maxPool2d(x, geometry: geometry, training: training)
    }
    public func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry: PoolGeometry) -> Tensor {
        inner.maxPool2dBackward(gradient, saved: saved, geometry: geometry)
    }
    public func avgPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor { inner.avgPool2d(x, geometry: geometry) }
    public func avgPool2dBackward(_ gradient: Tensor, geometry: PoolGeometry) -> Tensor {
        inner.avgPool2dBackward(gradient, geometry: geometry)
    }
    public func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        inner.batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon)
    }
    public func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> Tensor {
        inner.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
    }
    public func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        inner.batchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance, epsilon: epsilon)
    }
}
