import TarsierCPU
/// Memory layouts of 4-D activations: row-major NCHW, or channels-last (NHWC in memory with the
/// same logical NCHW shape, as PyTorch's `channels_last`). Values never depend on the layout;
/// kernels that run faster on NHWC (oneDNN's convolution, batch norm and pooling) keep it, and
/// same-layout element-wise operations preserve it.
extension Tensor {
    /// NHWC strides for an NCHW shape.
    public static func channelsLastStrides(for shape: [Int]) -> [Int] {
        precondition(shape.count == 4, "channels-last needs a rank-4 shape, got \(shape)")
        let (c, h, w) = (shape[1], shape[2], shape[3])
        return [h * w * c, 1, w * c, c]
    }

    /// True when a rank-4 tensor is stored densely in NHWC order at offset 0 (size-1 axes are
    /// ignored, so a one-channel image is both contiguous and channels-last).
    public var isChannelsLast: Bool {
        guard rank == 4, offset == 0, storage.count == count else { return false }
        let expected = Tensor.channelsLastStrides(for: shape)
        for axis in 0..<4 where shape[axis] != 1 && strides[axis] != expected[axis] { return false }
        return true
    }

    /// True when the elements fill the storage exactly, row-major or channels-last.
    var isDense: Bool {
        offset == 0 && storage.count == count && (isContiguous || isChannelsLast)
    }

    /// An uninitialised channels-last tensor.
    public init(channelsLastUninitialized shape: [Int], dtype: DType = .float32, device: Device = .default) {
        self.init(storage: TensorStorage(dtype: dtype, count: shape.reduce(1, *), zeroed: false), shape: shape,
                  strides: Tensor.channelsLastStrides(for: shape), device: device)
    }

    /// The same values stored channels-last (self when already so).
    public func channelsLast() -> Tensor {
        if isChannelsLast { return self }
        precondition(rank == 4, "channelsLast() needs an NCHW tensor, got \(shape)")
        let nhwc: TensorStorage
        if dtype == .float32 && isContiguous && offset == 0 {
            // Each image [C, H·W] becomes [H·W, C].
            nhwc = TensorStorage(dtype: dtype, count: count, zeroed: false)
            ImageTranspose.transpose(storage.floats, planes: shape[0], rows: shape[1], columns: shape[2] * shape[3],
                                     into: nhwc.floats)
        } else {
            nhwc = permuted([0, 2, 3, 1]).detached().materialize()
        }
        let y = Tensor(storage: nhwc, shape: shape, strides: Tensor.channelsLastStrides(for: shape), device: device)
        // A layout change does not change values, so the gradient passes through in any layout.
        return Autograd.record(y, inputs: [self]) { g in [g] }
    }

    /// The same values in the layout of `other` (channels-last or row-major), for element-wise
    /// kernels, which read both operands in one order.
    func withLayout(of other: Tensor) -> Tensor {
        other.isChannelsLast && rank == 4 ? channelsLast() : contiguous()
    }

    /// This gradient in the layout a backend kernel saw its forward input `x` in: channels-last
    /// when the backend prefers it and `x` is (a one-channel input counts as both, so the flag
    /// decides, not the memory), otherwise row-major.
    func gradientLayout(matching x: Tensor) -> Tensor {
        x.device.backend.prefersChannelsLast && x.isChannelsLast && rank == 4 ? channelsLast() : contiguous()
    }

    /// The same storage read with different strides; for kernels that computed a dense result
    /// element by element in the layout of their inputs.
    func relabeled(strides newStrides: [Int]) -> Tensor {
        var t = Tensor(storage: storage, shape: shape, strides: newStrides, offset: 0, device: device)
        t.gradNode = gradNode
        return t
    }
}
