import TarsierCPU

/// Channel-blocked activations for inference: a rank-5 tensor `[N, C/16, H, W, 16]` holding an
/// NCHW activation with its channels in blocks of 16 innermost (oneDNN's nChw16c). It is an
/// ordinary tensor of that shape, so every op sees true values; the channel-blocked kernels
/// below read it as the 4-D activation. Convolutions, pooling and residual additions on the CPU
/// run on it natively, so a network kept this way between layers skips the conversions that
/// NCHW or NHWC activations need around each of oneDNN's blocked (and Winograd) kernels.
/// These kernels record no gradients: they are for inference, inside `Autograd.withNoGrad`.
extension Tensor {
    /// Channels per block.
    public static let channelBlock = ActivationLayout.channelBlock

    /// True for a dense `[N, C/16, H, W, 16]` tensor at offset 0.
    public var isChannelBlocked: Bool {
        rank == 5 && shape[4] == Tensor.channelBlock && isContiguous && offset == 0
    }

    /// The same `[N, C, H, W]` activation channel-blocked, `[N, C/16, H, W, 16]`; `C` must be a
    /// multiple of 16.
    public func channelBlocked() -> Tensor {
        precondition(rank == 4 && shape[1] % Tensor.channelBlock == 0,
                     "channelBlocked() needs [N, C, H, W] with C a multiple of \(Tensor.channelBlock), got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return contiguous().reshaped([n, c / Tensor.channelBlock, Tensor.channelBlock, h, w])
            .permuted([0, 1, 3, 4, 2]).contiguous()
    }

    /// The `[N, C, H, W]` activation (row-major) of a channel-blocked tensor.
    public func channelUnblocked() -> Tensor {
        precondition(rank == 5 && shape[4] == Tensor.channelBlock,
                     "channelUnblocked() needs [N, C/16, H, W, 16], got \(shape)")
        let (n, blocks, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return permuted([0, 1, 4, 2, 3]).contiguous().reshaped([n, blocks * Tensor.channelBlock, h, w])
    }

    /// Convolution of a channel-blocked (or dense 4-D) activation with an OIHW `weight` into a
    /// channel-blocked result, as `conv2d` with `groups` 1, for inference.
    /// - Parameters:
    ///   - weight: `[O, C, kH, kW]`, `O` a multiple of 16.
    ///   - bias: `[O]`, or nil.
    ///   - stride: Vertical and horizontal stride.
    ///   - padding: Zero padding on each side.
    ///   - dilation: Kernel dilation, 1 for dense.
    ///   - relu: Apply ReLU to the result (after the residual is added).
    ///   - residual: A channel-blocked tensor of the result's shape added to it (a residual
    ///     connection's shortcut). Its storage may receive the result in place, so pass one that
    ///     is not read afterwards.
    public func channelBlockedConv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                                     padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1),
                                     relu: Bool = false, residual: Tensor? = nil) -> Tensor {
        precondition(!Autograd.isRecording,
                     "channelBlockedConv2d is for inference: run it inside Autograd.withNoGrad")
        precondition(isChannelBlocked || rank == 4,
                     "channelBlockedConv2d needs a channel-blocked or [N, C, H, W] input, got \(shape)")
        let inChannels = rank == 5 ? shape[1] * Tensor.channelBlock : shape[1]
        precondition(weight.rank == 4 && weight.shape[1] == inChannels
                        && weight.shape[0] % Tensor.channelBlock == 0,
                     "channelBlockedConv2d: weight \(weight.shape) does not fit \(inChannels) input channels "
                        + "with a multiple of \(Tensor.channelBlock) outputs")
        let g = ConvGeometry(batch: shape[0], inChannels: inChannels, inHeight: shape[2], inWidth: shape[3],
                             outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                             strideHeight: stride.0, strideWidth: stride.1, padHeight: padding.0, padWidth: padding.1,
                             dilationHeight: dilation.0, dilationWidth: dilation.1)
        precondition(g.outHeight > 0 && g.outWidth > 0,
                     "channelBlockedConv2d: input \(shape) too small for kernel \(weight.shape)")
        let outputShape = [g.batch, g.outChannels / Tensor.channelBlock, g.outHeight, g.outWidth, Tensor.channelBlock]
        if let residual {
            precondition(residual.isChannelBlocked && residual.shape == outputShape,
                         "channelBlockedConv2d: residual \(residual.shape) must be channel-blocked \(outputShape)")
        }
        let x = rank == 5 || isChannelsLast ? self : contiguous()
        return device.backend.channelBlockedConv2d(x, weight: weight.contiguous(), bias: bias?.contiguous(),
                                                   geometry: g, relu: relu, residual: residual)
    }

    /// Max pooling of a channel-blocked activation (padding counts as -infinity), for inference.
    public func channelBlockedMaxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil,
                                        padding: (Int, Int) = (0, 0)) -> Tensor {
        precondition(!Autograd.isRecording,
                     "channelBlockedMaxPool2d is for inference: run it inside Autograd.withNoGrad")
        precondition(isChannelBlocked, "channelBlockedMaxPool2d needs a channel-blocked input, got \(shape)")
        let stride = stride ?? kernel
        let g = PoolGeometry(batch: shape[0], channels: shape[1] * Tensor.channelBlock, inHeight: shape[2],
                             inWidth: shape[3], kernelHeight: kernel.0, kernelWidth: kernel.1,
                             strideHeight: stride.0, strideWidth: stride.1, padHeight: padding.0, padWidth: padding.1)
        precondition(2 * padding.0 <= kernel.0 && 2 * padding.1 <= kernel.1 && g.outHeight > 0 && g.outWidth > 0,
                     "channelBlockedMaxPool2d: kernel \(kernel), padding \(padding) do not fit input \(shape)")
        return device.backend.channelBlockedMaxPool2d(self, geometry: g)
    }
}
