import TarsierCPU

/// One kernel call as a wrapping backend sees it.
public struct KernelCall: Sendable {
    /// The kernel's name, e.g. "conv2d.backwardData" or "binary.add.broadcast".
    public let name: String
    /// Floating-point operations of convolutions (multiply-adds × 2) and matrix products
    /// (2·m·n·k); 0 for the memory-bound kernels.
    public let flops: Int
}

/// A backend that forwards every kernel to `inner` through `observe(_:_:)`: the one mechanism
/// behind `ProfilingBackend` (time per kernel) and `FlopCountingBackend` (work per model).
open class ObservingBackend: Backend {
    /// The backend doing the work.
    public let inner: any Backend

    public init(wrapping inner: any Backend) { self.inner = inner }

    /// Runs `body` (the forwarded kernel); subclasses measure around it.
    open func observe<R>(_ call: KernelCall, _ body: () -> R) -> R { body() }

    open var name: String { "observing(\(inner.name))" }
    public var prefersChannelsLast: Bool { inner.prefersChannelsLast }
    public var prefersChannelBlocked: Bool { inner.prefersChannelBlocked }

    @inline(__always)
    private func run<R>(_ name: String, flops: Int = 0, _ body: () -> R) -> R {
        observe(KernelCall(name: name, flops: flops), body)
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor { run("unary.\(op)") { inner.unary(op, x) } }
    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor {
        run("binary.\(op)\(a.shape == b.shape ? "" : ".broadcast")") { inner.binary(op, a, b, outputShape: outputShape) }
    }
    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int]) -> Tensor { run("reduce.\(op)") { inner.reduce(op, x, axes: axes) } }
    public func argmax(_ x: Tensor, axis: Int) -> [Int] { run("argmax") { inner.argmax(x, axis: axis) } }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
        let n = transposeB ? b.shape[0] : b.shape[1]
        return run("matmul", flops: 2 * m * n * k) { inner.matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
    }
    public func softmax(_ x: Tensor, log: Bool) -> Tensor { run("softmax") { inner.softmax(x, log: log) } }
    public func softmaxBackward(output y: Tensor, gradient: Tensor, log: Bool) -> Tensor {
        run("softmax.backward") { inner.softmaxBackward(output: y, gradient: gradient, log: log) }
    }
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, relu: Bool) -> Tensor {
        run(relu ? "conv2d+relu" : "conv2d", flops: geometry.flops) {
            inner.conv2d(x, weight: weight, bias: bias, geometry: geometry, relu: relu)
        }
    }
    public func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
        run("conv2d.backwardData", flops: geometry.flops) { inner.conv2dBackwardData(gradient, weight: weight, geometry: geometry) }
    }
    public func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry: ConvGeometry, withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        run("conv2d.backwardWeights", flops: geometry.flops) {
            inner.conv2dBackwardWeights(x, gradient: gradient, geometry: geometry, withBias: withBias)
        }
    }
    public func channelBlockedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, relu: Bool,
                                     residual: Tensor?) -> Tensor {
        run("conv2d.channelBlocked\(residual == nil ? "" : "+residual")\(relu ? "+relu" : "")", flops: geometry.flops) {
            inner.channelBlockedConv2d(x, weight: weight, bias: bias, geometry: geometry, relu: relu,
                                       residual: residual)
        }
    }
    public func channelBlockedMaxPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor {
        run("maxPool2d.channelBlocked") { inner.channelBlockedMaxPool2d(x, geometry: geometry) }
    }
    public func maxPool2d(_ x: Tensor, geometry: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        run("maxPool2d") { inner.maxPool2d(x, geometry: geometry, training: training) }
    }
    public func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry: PoolGeometry) -> Tensor {
        run("maxPool2d.backward") { inner.maxPool2dBackward(gradient, saved: saved, geometry: geometry) }
    }
    public func avgPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor { run("avgPool2d") { inner.avgPool2d(x, geometry: geometry) } }
    public func avgPool2dBackward(_ gradient: Tensor, geometry: PoolGeometry) -> Tensor {
        run("avgPool2d.backward") { inner.avgPool2dBackward(gradient, geometry: geometry) }
    }
    public func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        run("batchNorm.training") { inner.batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon) }
    }
    public func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> Tensor {
        run("batchNorm.inference") { inner.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon) }
    }
    public func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        run("batchNorm.backward") { inner.batchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance, epsilon: epsilon) }
    }
    public func batchNormReLUTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor, saved: BatchNormReLUSavedState) {
        run("batchNorm+relu.training") { inner.batchNormReLUTraining(x, scale: scale, shift: shift, epsilon: epsilon) }
    }
    public func batchNormReLUBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                                      epsilon: Double, saved: BatchNormReLUSavedState)
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        run("batchNorm+relu.backward") {
            inner.batchNormReLUBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance,
                                        epsilon: epsilon, saved: saved)
        }
    }
}
