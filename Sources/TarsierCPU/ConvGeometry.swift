/// Shapes and hyper-parameters of a 2-D convolution over NCHW activations and OIHW weights.
///
/// Layouts follow PyTorch: the source is `[batch, inChannels, inHeight, inWidth]`, the weight
/// `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`, the bias `[outChannels]` and
/// the destination `[batch, outChannels, outHeight, outWidth]`, all contiguous Float32.
public struct ConvGeometry: Hashable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    /// Symmetric zero padding added on both sides of the height axis.
    public var padHeight: Int
    /// Symmetric zero padding added on both sides of the width axis.
    public var padWidth: Int
    /// Dilation in PyTorch's convention: 1 is a dense kernel.
    public var dilationHeight: Int
    /// Dilation in PyTorch's convention: 1 is a dense kernel.
    public var dilationWidth: Int
    /// Number of channel groups; `inChannels` and `outChannels` must both be multiples of it.
    public var groups: Int
    /// Memory layout of the source (and of its gradient).
    public var sourceLayout = ActivationLayout.rowMajor
    /// Memory layout of the destination (and of its gradient).
    public var destinationLayout = ActivationLayout.rowMajor

    /// Whether both activations are NHWC in memory; setting it makes both NHWC or both NCHW.
    public var channelsLast: Bool {
        get { sourceLayout == .channelsLast && destinationLayout == .channelsLast }
        set { (sourceLayout, destinationLayout) = newValue ? (.channelsLast, .channelsLast) : (.rowMajor, .rowMajor) }
    }

    /// Whether either activation is channel-blocked (nChw16c).
    public var hasChannelBlocks: Bool { sourceLayout == .channelBlocked || destinationLayout == .channelBlocked }

    /// Creates a convolution geometry.
    /// - Parameters:
    ///   - batch: Number of images (N).
    ///   - inChannels: Source channels (C).
    ///   - inHeight: Source height.
    ///   - inWidth: Source width.
    ///   - outChannels: Destination channels (O).
    ///   - kernelHeight: Kernel height.
    ///   - kernelWidth: Kernel width.
    ///   - strideHeight: Vertical stride.
    ///   - strideWidth: Horizontal stride.
    ///   - padHeight: Zero padding on the top and on the bottom.
    ///   - padWidth: Zero padding on the left and on the right.
    ///   - dilationHeight: Vertical dilation, 1 for a dense kernel.
    ///   - dilationWidth: Horizontal dilation, 1 for a dense kernel.
    ///   - groups: Channel groups (`inChannels` for a depthwise convolution).
    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int,
                outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int = 1, strideWidth: Int = 1, padHeight: Int = 0, padWidth: Int = 0,
                dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padHeight = padHeight
        self.padWidth = padWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.groups = groups
    }

    /// Destination height: `(inHeight + 2 padHeight - dilationHeight (kernelHeight - 1) - 1) / strideHeight + 1`.
    public var outHeight: Int {
        (inHeight + 2 * padHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1
    }

    /// Destination width: `(inWidth + 2 padWidth - dilationWidth (kernelWidth - 1) - 1) / strideWidth + 1`.
    public var outWidth: Int {
        (inWidth + 2 * padWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1
    }

    /// Multiply-adds times two of one forward pass (the same count holds for each backward pass).
    public var flops: Int {
        2 * batch * outChannels * outHeight * outWidth
            * (inChannels / groups) * kernelHeight * kernelWidth
    }

    /// The forward convolution whose output is this one's source gradient: it convolves the
    /// destination gradient with the weight flipped in both spatial axes and its input and
    /// output channels swapped (per group), padded by `dilation (kernel - 1) - padding`. Only
    /// stride-1 convolutions whose padding is at most the dilated kernel's reach have one
    /// (nil otherwise).
    public var transposedForBackwardData: ConvGeometry? {
        let reachHeight = dilationHeight * (kernelHeight - 1), reachWidth = dilationWidth * (kernelWidth - 1)
        guard strideHeight == 1 && strideWidth == 1 && padHeight <= reachHeight && padWidth <= reachWidth
        else { return nil }
        var transposed = ConvGeometry(batch: batch, inChannels: outChannels, inHeight: outHeight,
                                      inWidth: outWidth, outChannels: inChannels,
                                      kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                      padHeight: reachHeight - padHeight, padWidth: reachWidth - padWidth,
                                      dilationHeight: dilationHeight, dilationWidth: dilationWidth,
                                      groups: groups)
        // The transposed convolution reads the destination gradient and writes the source's.
        transposed.sourceLayout = destinationLayout
        transposed.destinationLayout = sourceLayout
        return transposed
    }

    /// Traps when the geometry cannot describe a convolution.
    func validate() {
        precondition(batch > 0 && inChannels > 0 && inHeight > 0 && inWidth > 0,
                     "ConvGeometry: source dimensions must be positive: \(self)")
        precondition(outChannels > 0 && kernelHeight > 0 && kernelWidth > 0,
                     "ConvGeometry: kernel dimensions must be positive: \(self)")
        precondition(strideHeight > 0 && strideWidth > 0 && dilationHeight > 0 && dilationWidth > 0,
                     "ConvGeometry: stride and dilation must be positive: \(self)")
        precondition(padHeight >= 0 && padWidth >= 0, "ConvGeometry: negative padding: \(self)")
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "ConvGeometry: groups must divide both channel counts: \(self)")
        precondition(outHeight > 0 && outWidth > 0, "ConvGeometry: empty output: \(self)")
        precondition(sourceLayout != .channelBlocked || inChannels % ActivationLayout.channelBlock == 0,
                     "ConvGeometry: a channel-blocked source needs a multiple of 16 channels: \(self)")
        precondition(destinationLayout != .channelBlocked || outChannels % ActivationLayout.channelBlock == 0,
                     "ConvGeometry: a channel-blocked destination needs a multiple of 16 channels: \(self)")
    }
}
