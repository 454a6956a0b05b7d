import TarsierCPU

/// Error thrown when a layer receives an input of the wrong shape.
public struct ShapeError: Error, CustomStringConvertible {
    /// What went wrong, naming the layer and both shapes.
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// 2-D convolution.
extension Tensor {
    /// Convolves NCHW `self` with OIHW `weight` (PyTorch's conv2d); with `relu`, ReLU is applied
    /// to the result in the same kernel call (one pass over the output instead of two).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1, relu: Bool = false) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2d needs NCHW input and OIHW weight, got \(shape) and \(weight.shape)")
        precondition(shape[1] == weight.shape[1] * groups,
                     "conv2d: input has \(shape[1]) channels, weight \(weight.shape) with groups \(groups) expects \(weight.shape[1] * groups)")
        let g = ConvGeometry(batch: shape[0], inChannels: shape[1], inHeight: shape[2], inWidth: shape[3],
                             outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                             strideHeight: stride.0, strideWidth: stride.1, padHeight: padding.0, padWidth: padding.1,
                             dilationHeight: dilation.0, dilationWidth: dilation.1, groups: groups)
        precondition(g.outHeight > 0 && g.outWidth > 0, "conv2d: input \(shape) too small for kernel \(weight.shape)")
        let backend = device.backend
        let x = backend.prefersChannelsLast ? channelsLast().detached() : contiguous()
        let w = weight.contiguous(), b = bias?.contiguous()
        let y = backend.conv2d(x, weight: w, bias: b, geometry: g, relu: relu)
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Autograd.record(y, inputs: inputs) { grad in
            // ReLU's gradient from its output: y > 0 exactly where the convolution was > 0.
            let gy = (relu ? y.rawBinary(.reluBackward, grad) : grad).gradientLayout(matching: x)
            let gx = self.requiresGrad ? backend.conv2dBackwardData(gy, weight: w, geometry: g) : nil
            var gw: Tensor? = nil, gb: Tensor? = nil
            if weight.requiresGrad || (bias?.requiresGrad ?? false) {
                let r = backend.conv2dBackwardWeights(x, gradient: gy, geometry: g, withBias: bias != nil)
                gw = r.weight
                gb = r.bias
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
