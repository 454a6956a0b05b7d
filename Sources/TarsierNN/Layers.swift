import TarsierCore

/// 2-D convolution over NCHW input (PyTorch's `nn.Conv2d`, same parameter names and layout).
public final class Conv2d: Module {
    /// Weights [out, in/groups, kH, kW].
    public var weight: Tensor
    /// Per-output-channel bias, when enabled.
    public var bias: Tensor?
    public let inputChannels: Int, outputChannels: Int
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    public let groups: Int

    /// Creates a convolution with PyTorch's default initialisation (square kernel, stride, padding).
    public convenience init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups,
                  bias: bias)
    }

    /// Creates a convolution with (height, width) kernel, stride, padding and dilation.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true) {
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0,
                     "Conv2d: channels \(inputChannels)->\(outputChannels) not divisible by groups \(groups)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let fanIn = inputChannels / groups * kernelSize.0 * kernelSize.1
        weight = Module.parameter(Initializer.pytorchDefault([outputChannels, inputChannels / groups, kernelSize.0, kernelSize.1],
                                                             fanIn: fanIn))
        self.bias = bias ? Module.parameter(Initializer.pytorchDefault([outputChannels], fanIn: fanIn)) : nil
        super.init()
    }

    public override var layerDescription: String {
        "Conv2d(\(inputChannels), \(outputChannels), kernel_size=\(kernelSize), stride=\(stride), padding=\(padding)"
            + (groups > 1 ? ", groups=\(groups)" : "") + (bias == nil ? ", bias=False" : "") + ")"
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try convolve(x, weight: weight, bias: bias)
    }

    /// Batch norm folded into this convolution, for evaluation (see `BatchNormFolding.swift`);
    /// the underscore keeps it out of the state dict.
    var _folded: FoldedConvolution?

    /// This layer's convolution with another weight and bias of the same shapes (and ReLU).
    func convolve(_ x: Tensor, weight: Tensor, bias: Tensor?, relu: Bool = false) throws -> Tensor {
        try checkInput(x)
        return x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation,
                        groups: groups, relu: relu)
    }

    /// Throws unless `x` is `[N, inputChannels, H, W]` (or its channel-blocked form) at least
    /// as large as the dilated kernel.
    func checkInput(_ x: Tensor) throws {
        let channels = x.isChannelBlocked ? x.shape[1] * Tensor.channelBlock : (x.rank == 4 ? x.shape[1] : -1)
        guard channels == inputChannels else {
            throw ShapeError("\(layerDescription) expects input [N, \(inputChannels), H, W], got \(x.shape)")
        }
        let effH = dilation.0 * (kernelSize.0 - 1) + 1, effW = dilation.1 * (kernelSize.1 - 1) + 1
        guard x.shape[2] + 2 * padding.0 >= effH, x.shape[3] + 2 * padding.1 >= effW else {
            throw ShapeError("\(layerDescription): input \(x.shape) is smaller than the kernel")
        }
    }
}

/// A fully connected layer y = x·Wᵀ + b (PyTorch's `nn.Linear`).
public final class Linear: Module {
    /// Weights [out, in].
    public var weight: Tensor
    /// Bias [out], when enabled.
    public var bias: Tensor?
    public let inputFeatures: Int
    public private(set) var outputFeatures: Int

    /// Creates a linear layer with PyTorch's default initialisation.
    public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true) {
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        weight = Module.parameter(Initializer.pytorchDefault([outputFeatures, inputFeatures], fanIn: inputFeatures))
        self.bias = bias ? Module.parameter(Initializer.pytorchDefault([outputFeatures], fanIn: inputFeatures)) : nil
        super.init()
    }

    /// Gives the layer `outputFeatures` fresh outputs with PyTorch's default initialisation (a new
    /// classifier head); the new weight and bias are new parameter tensors.
    public func reset(outputFeatures: Int) {
        precondition(outputFeatures > 0, "outputFeatures must be positive")
        self.outputFeatures = outputFeatures
        weight = Module.parameter(Initializer.pytorchDefault([outputFeatures, inputFeatures], fanIn: inputFeatures))
        if bias != nil {
            bias = Module.parameter(Initializer.pytorchDefault([outputFeatures], fanIn: inputFeatures))
        }
    }

    public override var layerDescription: String {
        "Linear(in_features=\(inputFeatures), out_features=\(outputFeatures), bias=\(bias != nil))"
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1, x.shape.last == inputFeatures else {
            throw ShapeError("\(layerDescription) expects input [..., \(inputFeatures)], got \(x.shape)")
        }
        let flat = x.rank == 2 ? x : x.reshaped([-1, inputFeatures])
        var y = flat.matmul(weight, transposeOther: true)
        if let bias { y = y + bias }
        return x.rank == 2 ? y : y.reshaped(Array(x.shape.dropLast()) + [outputFeatures])
    }
}

/// Batch normalisation over channel axis 1 (PyTorch's `nn.BatchNorm2d`, also used for `BatchNorm1d`).
public class BatchNorm: Module {
    /// Per-channel scale (gamma).
    public var weight: Tensor
    /// Per-channel shift (beta).
    public var bias: Tensor
    /// Running mean used in evaluation mode.
    public var runningMean: Tensor
    /// Running (unbiased) variance used in evaluation mode.
    public var runningVar: Tensor
    /// Number of training batches seen (PyTorch's `num_batches_tracked`).
    public var numBatchesTracked: Tensor
    public let featureCount: Int
    public let epsilon: Double
    public let momentum: Double
    let expectedRanks: Set<Int>

    init(featureCount: Int, epsilon: Double, momentum: Double, ranks: Set<Int>) {
        self.featureCount = featureCount
        self.epsilon = epsilon
        self.momentum = momentum
        expectedRanks = ranks
        weight = Module.parameter(Tensor(repeating: 1, shape: [featureCount]))
        bias = Module.parameter(Tensor(zeros: [featureCount]))
        runningMean = Tensor(zeros: [featureCount])
        runningVar = Tensor(repeating: 1, shape: [featureCount])
        numBatchesTracked = Tensor(zeros: [])
        super.init()
    }

    public override var layerDescription: String {
        "\(type(of: self))(\(featureCount), eps=\(epsilon), momentum=\(momentum))"
    }

    public override func forward(_ x: Tensor) throws -> Tensor { try callAsFunction(x, relu: false) }

    /// Batch norm, then ReLU when `relu` is set; in training the two run as one fused pass.
    public func callAsFunction(_ x: Tensor, relu: Bool) throws -> Tensor {
        guard expectedRanks.contains(x.rank), x.shape[1] == featureCount else {
            throw ShapeError("\(layerDescription) expects \(expectedRanks.contains(4) ? "[N, \(featureCount), H, W]" : "[N, \(featureCount)]") input, got \(x.shape)")
        }
        guard isTraining else {
            let y = x.batchNormInference(scale: weight, shift: bias, mean: runningMean, variance: runningVar,
                                         epsilon: epsilon)
            return relu ? y.relu() : y
        }
        let r = relu ? x.batchNormReLUTraining(scale: weight, shift: bias, epsilon: epsilon)
            : x.batchNormTraining(scale: weight, shift: bias, epsilon: epsilon)
        updateRunningStatistics(mean: r.mean, biasedVariance: r.variance, sampleCount: x.count / featureCount)
        return r.output
    }

    /// running = (1-m)·running + m·batch, with the unbiased variance as PyTorch.
    private func updateRunningStatistics(mean: Tensor, biasedVariance: Tensor, sampleCount: Int) {
        Autograd.withNoGrad {
            let correction = Double(sampleCount) / Double(Swift.max(sampleCount - 1, 1))
            runningMean.assign(runningMean * (1 - momentum) + mean.cast(to: runningMean.dtype) * momentum)
            runningVar.assign(runningVar * (1 - momentum) + biasedVariance.cast(to: runningVar.dtype) * (momentum * correction))
            numBatchesTracked.assign(numBatchesTracked + 1)
        }
    }
}

/// Batch norm over [N, C, H, W].
public final class BatchNorm2d: BatchNorm {
    /// Creates batch norm with PyTorch's defaults (eps 1e-5, momentum 0.1, affine, tracked statistics).
    public init(_ featureCount: Int, epsilon: Double = 1e-5, momentum: Double = 0.1) {
        super.init(featureCount: featureCount, epsilon: epsilon, momentum: momentum, ranks: [4])
    }
}

/// Batch norm over [N, C] (or [N, C, L]).
public final class BatchNorm1d: BatchNorm {
    /// Creates batch norm with PyTorch's defaults.
    public init(_ featureCount: Int, epsilon: Double = 1e-5, momentum: Double = 0.1) {
        super.init(featureCount: featureCount, epsilon: epsilon, momentum: momentum, ranks: [2, 3])
    }
}

/// Applies modules in order (PyTorch's `nn.Sequential`; children keyed "0", "1", …).
public final class Sequential: Module {
    /// The layers, applied first to last.
    public var layers: [Module]

    /// Creates a sequence of layers.
    public init(_ layers: [Module]) {
        self.layers = layers
        super.init()
    }

    /// Creates a sequence of layers.
    public convenience init(_ layers: Module...) { self.init(layers) }

    public override func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        var index = 0
        while index < layers.count {
            // Conv → batch norm (→ ReLU) runs as one call, which folds them in evaluation and
            // fuses batch norm and ReLU in training; conv → ReLU applies the ReLU as the
            // convolution writes its output.
            if let conv = layers[index] as? Conv2d, index + 1 < layers.count,
               let batchNorm = layers[index + 1] as? BatchNorm {
                let relu = index + 2 < layers.count && layers[index + 2] is ReLU
                y = try conv(y, batchNorm: batchNorm, relu: relu)
                index += relu ? 3 : 2
            } else if let conv = layers[index] as? Conv2d, index + 1 < layers.count,
                      layers[index + 1] is ReLU {
                y = try conv.convolve(y, weight: conv.weight, bias: conv.bias, relu: true)
                index += 2
            } else if let batchNorm = layers[index] as? BatchNorm, index + 1 < layers.count,
                      layers[index + 1] is ReLU {
                // Batch norm → ReLU (after pooling, say) runs as one fused pass in training.
                y = try batchNorm(y, relu: true)
                index += 2
            } else {
                y = try layers[index](y)
                index += 1
            }
        }
        return y
    }
}
