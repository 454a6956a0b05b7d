import TarsierCore

/// Convolution followed by batch norm, the block CNNs repeat. In evaluation mode without gradient
/// recording the batch norm is a fixed affine map per channel, so it folds into the convolution:
/// `W' = W·s` and `b' = (b − mean)·s + β` with `s = γ / √(var + ε)`. One convolution then runs
/// instead of a convolution plus a batch-norm pass over the activations (and a following ReLU
/// is applied as the convolution writes its output). The folded weights are
/// kept and rebuilt when any of the six tensors changes (their storages' versions).
extension Conv2d {
    /// `batchNorm(self(x))`, then ReLU when `relu` is true; folded when both modules are in
    /// evaluation mode and gradients are not being recorded.
    /// - Parameters:
    ///   - x: The convolution's input.
    ///   - batchNorm: The batch norm applied to the convolution's output.
    ///   - relu: Whether a ReLU follows.
    public func callAsFunction(_ x: Tensor, batchNorm: BatchNorm, relu: Bool = false) throws -> Tensor {
        guard !isTraining, !batchNorm.isTraining, !Autograd.isRecording,
              batchNorm.featureCount == outputChannels else {
            return try batchNorm(self(x), relu: relu)
        }
        let folded = foldedWeights(with: batchNorm)
        return try convolve(x, weight: folded.weight, bias: folded.bias, relu: relu)
    }

    /// `batchNorm(self(x))`, then ReLU, with the batch norm folded in, on channel-blocked
    /// activations (see `Tensor.channelBlocked()`): inference only, with both modules in
    /// evaluation mode and gradients not recorded.
    /// - Parameters:
    ///   - x: Channel-blocked, or a dense `[N, C, H, W]` batch entering the network.
    ///   - batchNorm: The batch norm applied to the convolution's output.
    ///   - relu: Whether a ReLU follows (after `residual` is added).
    ///   - residual: A channel-blocked shortcut of the result's shape, added to it; its storage
    ///     may receive the result, so pass one that is not read afterwards.
    /// - Returns: The channel-blocked result.
    /// - Throws: `ShapeError` when `x` does not fit this layer.
    public func channelBlocked(_ x: Tensor, batchNorm: BatchNorm, relu: Bool = false,
                               residual: Tensor? = nil) throws -> Tensor {
        precondition(!isTraining && !batchNorm.isTraining && !Autograd.isRecording,
                     "\(layerDescription): channel-blocked inference needs evaluation mode without gradient recording")
        try checkInput(x)
        guard groups == 1, batchNorm.featureCount == outputChannels,
              outputChannels % Tensor.channelBlock == 0 else {
            throw ShapeError("\(layerDescription): channel-blocked inference needs groups 1 and a multiple of "
                             + "\(Tensor.channelBlock) output channels matching the batch norm's")
        }
        let folded = foldedWeights(with: batchNorm)
        return x.channelBlockedConv2d(weight: folded.weight, bias: folded.bias, stride: stride, padding: padding,
                                      dilation: dilation, relu: relu, residual: residual)
    }

    private func foldedWeights(with bn: BatchNorm) -> FoldedConvolution {
        let sources: [Tensor?] = [weight, bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar]
        let key: [UInt64] = sources.flatMap { tensor -> [UInt64] in
            guard let tensor else { return [0, 0] }
            return [tensor.storage.identity, tensor.storage.version]
        }
        if let cached = _folded, cached.key == key { return cached }
        let (weight, bias): (Tensor, Tensor) = Autograd.withNoGrad {
            let scale = bn.weight / (bn.runningVar + bn.epsilon).sqrt()
            let weight = self.weight * scale.reshaped([outputChannels, 1, 1, 1])
            let shift = (self.bias ?? Tensor(zeros: [outputChannels], dtype: self.weight.dtype,
                                             device: self.weight.device))
            return (weight, (shift - bn.runningMean) * scale + bn.bias)
        }
        // Rebuilt in place when possible: the kernels' copies are keyed by storage, so new
        // tensors every epoch would leave the old copies behind until their cache restarts.
        if let previous = _folded, previous.weight.shape == weight.shape,
           previous.weight.dtype == weight.dtype, previous.weight.device == weight.device {
            previous.weight.assign(weight)
            previous.bias.assign(bias)
            _folded = FoldedConvolution(key: key, weight: previous.weight, bias: previous.bias)
        } else {
            // Leaves, so that inference convolutions keep their reordered copies as they do for
            // parameters (see CPUBackend.conv2d); they never take part in a backward pass.
            _folded = FoldedConvolution(key: key, weight: weight.contiguous().requiringGrad(),
                                        bias: bias.contiguous().requiringGrad())
        }
        return _folded ?? FoldedConvolution(key: key, weight: weight, bias: bias)
    }
}

/// A convolution's weight and bias with a batch norm folded in, and what they were built from.
struct FoldedConvolution {
    let key: [UInt64]
    let weight: Tensor
    let bias: Tensor
}
