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
public final class FlopCountingBackend: ObservingBackend {
    private var count = 0
    private let lock = SpinLock()

    /// Floating-point operations counted so far. Setting it (usually to 0) resets the count.
    public var flops: Int {
        get { lock.withLock { count } }
        set { lock.withLock { count = newValue } }
    }

    /// Sets the count back to zero.
    public func reset() { flops = 0 }

    public override var name: String { "flops(\(inner.name))" }

    public override func observe<R>(_ call: KernelCall, _ body: () -> R) -> R {
        lock.withLock { count += call.flops }
        return body()
    }
}
