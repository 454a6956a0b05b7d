/// Batch normalisation over the channel axis 1 of [N, C, …].
extension Tensor {
    /// Training-mode batch norm: normalises with batch statistics; returns the output, the batch mean
    /// and the biased batch variance (callers update running statistics with the unbiased one).
    public func batchNormTraining(scale: Tensor, shift: Tensor, epsilon: Double) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        precondition(rank >= 2, "batch norm needs [N, C, …], got \(shape)")
        let x = rank == 4 ? layoutForBackend() : contiguous()
        let s = scale.contiguous(), b = shift.contiguous()
        let r = device.backend.batchNormTraining(x, scale: s, shift: b, epsilon: epsilon)
        let y = Autograd.record(r.output, inputs: [self, scale, shift]) { g in
            let grads = x.device.backend.batchNormBackward(x, gradient: g.gradientLayout(matching: x), scale: s, mean: r.mean,
                                                           variance: r.variance, epsilon: epsilon)
            return [grads.input, grads.scale, grads.shift]
        }
        return (y, r.mean, r.variance)
    }

    /// Training-mode batch norm followed by ReLU: `batchNormTraining(...).output.relu()` in one
    /// pass where the backend fuses them (no separate ReLU pass forward or backward).
    public func batchNormReLUTraining(scale: Tensor, shift: Tensor, epsilon: Double) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        precondition(rank >= 2, "batch norm needs [N, C, …], got \(shape)")
        let x = rank == 4 ? layoutForBackend() : contiguous()
        let s = scale.contiguous(), b = shift.contiguous()
        let r = device.backend.batchNormReLUTraining(x, scale: s, shift: b, epsilon: epsilon)
        let y = Autograd.record(r.output, inputs: [self, scale, shift]) { g in
            let grads = x.device.backend.batchNormReLUBackward(x, gradient: g.gradientLayout(matching: x), scale: s,
                                                               mean: r.mean, variance: r.variance, epsilon: epsilon,
                                                               saved: r.saved)
            return [grads.input, grads.scale, grads.shift]
        }
        return (y, r.mean, r.variance)
    }

    /// Inference-mode batch norm with fixed statistics (an affine map per channel).
    public func batchNormInference(scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) -> Tensor {
        precondition(rank >= 2, "batch norm needs [N, C, …], got \(shape)")
        let x = rank == 4 ? layoutForBackend() : contiguous()
        let s = scale.contiguous(), b = shift.contiguous()
        let y = device.backend.batchNormInference(x, scale: s, shift: b, mean: mean.contiguous(),
                                                  variance: variance.contiguous(), epsilon: epsilon)
        return Autograd.record(y, inputs: [self, scale, shift]) { g in
            // y = x·a + c with a = scale/√(var+ε): gradients are per-channel sums.
            let channelShape = [1, x.shape[1]] + [Int](repeating: 1, count: x.rank - 2)
            let invStd = (variance + epsilon).sqrt().reciprocal()
            let a = (s * invStd).reshaped(channelShape)
            let xhat = (x - mean.reshaped(channelShape)) * invStd.reshaped(channelShape)
            let reduceAxes = [0] + Array(2..<x.rank)
            return [g * a, (g * xhat).sum(axes: reduceAxes), g.sum(axes: reduceAxes)]
        }
    }
}
