import TarsierCPU
#if canImport(Glibc)
import Glibc
#endif

/// Wraps a backend and accumulates the time and call count of each kernel, for finding where a
/// training step spends its time (`tarsier train --profile`).
public final class ProfilingBackend: Backend {
    /// The backend doing the work.
    public let inner: any Backend
    private var totals: [String: (seconds: Double, calls: Int)] = [:]
    private let lock = SpinLock()

    public init(wrapping inner: any Backend) { self.inner = inner }

    public var name: String { "profiling(\(inner.name))" }
    public var prefersChannelsLast: Bool { inner.prefersChannelsLast }

    @inline(__always)
    private func timed<R>(_ key: String, _ body: () -> R) -> R {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let r = body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let dt = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
        lock.withLock {
            let old = totals[key] ?? (0, 0)
            totals[key] = (old.seconds + dt, old.calls + 1)
        }
        return r
    }

    /// Kernel names with total seconds and calls, slowest first.
    public func report() -> [(name: String, seconds: Double, calls: Int)] {
        lock.withLock { totals.map { ($0.key, $0.value.seconds, $0.value.calls) } }.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets the accumulated times.
    public func reset() { lock.withLock { totals = [:] } }

    public func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor { timed("unary.\(op)") { inner.unary(op, x) } }
    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor {
        timed("binary.\(op)\(a.shape == b.shape ? "" : ".broadcast")") { inner.binary(op, a, b, outputShape: outputShape) }
    }
    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int]) -> Tensor { timed("reduce.\(op)") { inner.reduce(op, x, axes: axes) } }
    public func argmax(_ x: Tensor, axis: Int) -> [Int] { timed("argmax") { inner.argmax(x, axis: axis) } }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        timed("matmul") { inner.matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
    }
    public func softmax(_ x: Tensor, log: Bool) -> Tensor { timed("softmax") { inner.softmax(x, log: log) } }
    public func softmaxBackward(output y: Tensor, gradient: Tensor, log: Bool) -> Tensor {
        timed("softmax.backward") { inner.softmaxBackward(output: y, gradient: gradient, log: log) }
    }
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) -> Tensor {
        timed("conv2d") { inner.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
    }
    public func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
        timed("conv2d.backwardData") { inner.conv2dBackwardData(gradient, weight: weight, geometry: geometry) }
    }
    public func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry: ConvGeometry, withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        timed("conv2d.backwardWeights") { inner.conv2dBackwardWeights(x, gradient: gradient, geometry: geometry, withBias: withBias) }
    }
    public func maxPool2d(_ x: Tensor, geometry: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?) {
        timed("maxPool2d") { inner.maxPool2d(x, geometry: geometry, training: training) }
    }
    public func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry: PoolGeometry) -> Tensor {
        timed("maxPool2d.backward") { inner.maxPool2dBackward(gradient, saved: saved, geometry: geometry) }
    }
    public func avgPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor { timed("avgPool2d") { inner.avgPool2d(x, geometry: geometry) } }
    public func avgPool2dBackward(_ gradient: Tensor, geometry: PoolGeometry) -> Tensor {
        timed("avgPool2d.backward") { inner.avgPool2dBackward(gradient, geometry: geometry) }
    }
    public func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        timed("batchNorm.training") { inner.batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon) }
    }
    public func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> Tensor {
        timed("batchNorm.inference") { inner.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon) }
    }
    public func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor) {
        timed("batchNorm.backward") { inner.batchNormBackward(x, gradient: gradient, scale: scale, mean: mean, variance: variance, epsilon: epsilon) }
    }
}
