/// Shapes and hyper-parameters of a 2-D pooling over NCHW activations, with PyTorch's semantics.
public struct PoolGeometry: Hashable, Sendable {
    public var batch: Int
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    /// Symmetric implicit padding (-infinity for max, zero for average pooling).
    public var padHeight: Int
    /// Symmetric implicit padding (-infinity for max, zero for average pooling).
    public var padWidth: Int
    /// PyTorch's `ceil_mode`: round the output size up, but the last window must start inside
    /// the input or its left padding.
    public var ceilMode: Bool
    /// PyTorch's `count_include_pad` (average pooling only): divide by the window size clipped to
    /// the padded input instead of by the number of real elements.
    public var countIncludePad: Bool
    /// Memory layout of the source and destination (and of their gradients).
    public var layout = ActivationLayout.rowMajor

    /// Whether source and destination are NHWC in memory rather than NCHW.
    public var channelsLast: Bool {
        get { layout == .channelsLast }
        set { layout = newValue ? .channelsLast : .rowMajor }
    }

    /// Creates a pooling geometry.
    /// - Parameters:
    ///   - batch: Number of images (N).
    ///   - channels: Channels (C); pooling is per channel.
    ///   - inHeight: Source height.
    ///   - inWidth: Source width.
    ///   - kernelHeight: Window height.
    ///   - kernelWidth: Window width.
    ///   - strideHeight: Vertical stride.
    ///   - strideWidth: Horizontal stride.
    ///   - padHeight: Padding on the top and on the bottom.
    ///   - padWidth: Padding on the left and on the right.
    ///   - ceilMode: PyTorch's `ceil_mode`.
    ///   - countIncludePad: PyTorch's `count_include_pad`, used by average pooling only.
    public init(batch: Int, channels: Int, inHeight: Int, inWidth: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                padHeight: Int = 0, padWidth: Int = 0, ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        self.batch = batch
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padHeight = padHeight
        self.padWidth = padWidth
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    /// Destination height, as PyTorch's `pooling_output_shape`.
    public var outHeight: Int {
        Self.outputSize(inHeight, kernelHeight, strideHeight, padHeight, ceilMode)
    }

    /// Destination width, as PyTorch's `pooling_output_shape`.
    public var outWidth: Int {
        Self.outputSize(inWidth, kernelWidth, strideWidth, padWidth, ceilMode)
    }

    static func outputSize(_ input: Int, _ kernel: Int, _ stride: Int, _ pad: Int,
                           _ ceil: Bool) -> Int {
        let span = input + 2 * pad - kernel + (ceil ? stride - 1 : 0)
        var size = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1
        // The last window may not start in the right padding.
        if ceil && (size - 1) * stride >= input + pad { size -= 1 }
        return size
    }

    /// Right (bottom) padding that makes oneDNN produce exactly `output` windows; it exceeds
    /// `pad` in ceil mode.
    static func trailingPad(_ input: Int, _ kernel: Int, _ stride: Int, _ pad: Int,
                            _ output: Int) -> Int {
        max(pad, (output - 1) * stride + kernel - input - pad)
    }

    /// Traps when the geometry cannot describe a pooling.
    func validate() {
        precondition(batch > 0 && channels > 0 && inHeight > 0 && inWidth > 0,
                     "PoolGeometry: source dimensions must be positive: \(self)")
        precondition(kernelHeight > 0 && kernelWidth > 0 && strideHeight > 0 && strideWidth > 0,
                     "PoolGeometry: kernel and stride must be positive: \(self)")
        precondition(padHeight >= 0 && padWidth >= 0
                        && 2 * padHeight <= kernelHeight && 2 * padWidth <= kernelWidth,
                     "PoolGeometry: padding must be at most half the kernel (as PyTorch): \(self)")
        precondition(outHeight > 0 && outWidth > 0, "PoolGeometry: empty output: \(self)")
        precondition(layout != .channelBlocked || channels % ActivationLayout.channelBlock == 0,
                     "PoolGeometry: channel-blocked activations need a multiple of 16 channels: \(self)")
    }
}
