import TarsierCore
import TarsierNN

/// torchvision's ResNet basic block (two 3x3 convolutions and a shortcut).
public final class BasicBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    /// Projection shortcut when the shape changes (`downsample.0` conv, `downsample.1` batch norm).
    public let downsample: Sequential?

    public init(inputChannels: Int, outputChannels: Int, stride: Int) {
        conv1 = Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, stride: stride,
                       padding: 1, bias: false)
        bn1 = BatchNorm2d(outputChannels)
        conv2 = Conv2d(inputChannels: outputChannels, outputChannels: outputChannels, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(outputChannels)
        downsample = (stride != 1 || inputChannels != outputChannels)
            ? Sequential(Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 1, stride: stride,
                                bias: false), BatchNorm2d(outputChannels))
            : nil
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let out = try conv2(conv1(x, batchNorm: bn1, relu: true), batchNorm: bn2)
        let shortcut = try downsample?(x) ?? x
        return out.reluOfSum(shortcut)
    }

    /// Whether this block and every module in it are in evaluation mode.
    var isEvaluating: Bool {
        [self, conv1, bn1, conv2, bn2].allSatisfy { !$0.isTraining } && (downsample.map(allEvaluating) ?? true)
    }

    /// The block on channel-blocked activations (`ResNet`'s inference path); with an identity
    /// shortcut the result is written over `x`'s storage.
    func channelBlockedForward(_ x: Tensor) throws -> Tensor {
        let h = try conv1.channelBlocked(x, batchNorm: bn1, relu: true)
        let shortcut = try downsample.map { try channelBlockedProjection($0, x) } ?? x
        return try conv2.channelBlocked(h, batchNorm: bn2, relu: true, residual: shortcut)
    }
}

/// Whether a sequence and its layers are in evaluation mode (without walking the module tree by
/// reflection, which would cost more than a batch-1 convolution).
func allEvaluating(_ sequence: Sequential) -> Bool {
    !sequence.isTraining && sequence.layers.allSatisfy { !$0.isTraining }
}

/// A projection shortcut (`downsample`: a convolution and its batch norm) on channel-blocked
/// activations.
func channelBlockedProjection(_ downsample: Sequential, _ x: Tensor) throws -> Tensor {
    guard downsample.layers.count == 2, let conv = downsample.layers[0] as? Conv2d,
          let batchNorm = downsample.layers[1] as? BatchNorm else {
        throw ShapeError("channel-blocked inference: a shortcut must be a convolution and a batch norm")
    }
    return try conv.channelBlocked(x, batchNorm: batchNorm)
}

/// torchvision's bottleneck block (1x1, 3x3, 1x1 with expansion 4; stride on the 3x3).
public final class Bottleneck: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    public let downsample: Sequential?
    static let expansion = 4

    public init(inputChannels: Int, width: Int, stride: Int) {
        let out = width * Bottleneck.expansion
        conv1 = Conv2d(inputChannels: inputChannels, outputChannels: width, kernelSize: 1, bias: false)
        bn1 = BatchNorm2d(width)
        conv2 = Conv2d(inputChannels: width, outputChannels: width, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn2 = BatchNorm2d(width)
        conv3 = Conv2d(inputChannels: width, outputChannels: out, kernelSize: 1, bias: false)
        bn3 = BatchNorm2d(out)
        downsample = (stride != 1 || inputChannels != out)
            ? Sequential(Conv2d(inputChannels: inputChannels, outputChannels: out, kernelSize: 1, stride: stride, bias: false),
                         BatchNorm2d(out))
            : nil
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        var out = try conv1(x, batchNorm: bn1, relu: true)
        out = try conv2(out, batchNorm: bn2, relu: true)
        out = try conv3(out, batchNorm: bn3)
        return out.reluOfSum(try downsample?(x) ?? x)
    }

    /// Whether this block and every module in it are in evaluation mode.
    var isEvaluating: Bool {
        [self, conv1, bn1, conv2, bn2, conv3, bn3].allSatisfy { !$0.isTraining }
            && (downsample.map(allEvaluating) ?? true)
    }

    /// The block on channel-blocked activations (`ResNet`'s inference path); with an identity
    /// shortcut the result is written over `x`'s storage.
    func channelBlockedForward(_ x: Tensor) throws -> Tensor {
        var out = try conv1.channelBlocked(x, batchNorm: bn1, relu: true)
        out = try conv2.channelBlocked(out, batchNorm: bn2, relu: true)
        let shortcut = try downsample.map { try channelBlockedProjection($0, x) } ?? x
        return try conv3.channelBlocked(out, batchNorm: bn3, relu: true, residual: shortcut)
    }
}

/// ResNet in torchvision's layout and `state_dict` keys (`conv1`, `bn1`, `layer1.0.conv1`, …, `fc`),
/// so torchvision weights load unchanged.
public final class ResNet: Module {
    /// The depths torchvision defines.
    public enum Depth: String, CaseIterable, Sendable {
        case resNet18 = "resnet18", resNet34 = "resnet34", resNet50 = "resnet50", resNet101 = "resnet101",
             resNet152 = "resnet152"

        var blocks: [Int] {
            switch self {
            case .resNet18: return [2, 2, 2, 2]
            case .resNet34, .resNet50: return [3, 4, 6, 3]
            case .resNet101: return [3, 4, 23, 3]
            case .resNet152: return [3, 8, 36, 3]
            }
        }
        var usesBottleneck: Bool { self != .resNet18 && self != .resNet34 }
    }

    public let conv1: Conv2d, bn1: BatchNorm2d
    public let layer1: Sequential, layer2: Sequential, layer3: Sequential, layer4: Sequential
    public let fc: Linear

    /// Creates a ResNet with torchvision's initialisation (Kaiming-normal convolutions, unit BN).
    public init(depth: Depth, classCount: Int = 1000, inputChannels: Int = 3) {
        conv1 = Conv2d(inputChannels: inputChannels, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false)
        bn1 = BatchNorm2d(64)
        var channels = 64
        var stages: [Sequential] = []
        for (i, count) in depth.blocks.enumerated() {
            let width = 64 << i
            var blocks: [Module] = []
            for j in 0..<count {
                let stride = (i > 0 && j == 0) ? 2 : 1
                if depth.usesBottleneck {
                    blocks.append(Bottleneck(inputChannels: channels, width: width, stride: stride))
                    channels = width * Bottleneck.expansion
                } else {
                    blocks.append(BasicBlock(inputChannels: channels, outputChannels: width, stride: stride))
                    channels = width
                }
            }
            stages.append(Sequential(blocks))
        }
        layer1 = stages[0]; layer2 = stages[1]; layer3 = stages[2]; layer4 = stages[3]
        fc = Linear(inputFeatures: channels, outputFeatures: classCount)
        super.init()
        for (_, m) in namedModules() {
            if let conv = m as? Conv2d {
                let fanOut = conv.outputChannels * conv.kernelSize.0 * conv.kernelSize.1
                conv.weight.assign(Initializer.kaimingNormal(conv.weight.shape, fan: fanOut))
            }
        }
    }

    /// In evaluation without gradient recording, on the CPU, the forward pass runs on
    /// channel-blocked activations (`ChannelBlockedInference`): no layout conversions around the
    /// convolutions, and each residual addition and its ReLU run inside the block's last
    /// convolution, which writes over the shortcut.
    public override func forward(_ x: Tensor) throws -> Tensor {
        if runsChannelBlocked(x) { return try channelBlockedForward(x) }
        var y = try conv1(x, batchNorm: bn1, relu: true)
        y = y.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        y = try layer4(layer3(layer2(layer1(y))))
        return try fc(y.adaptiveAvgPool2d((1, 1)).flattened())
    }

    /// Whether `forward(x)` takes the channel-blocked path: every module evaluating, no
    /// gradients recorded, and a Float32 batch on a backend that prefers it.
    func runsChannelBlocked(_ x: Tensor) -> Bool {
        ChannelBlockedInference.applies(to: x) && [self, conv1, bn1, fc].allSatisfy { !$0.isTraining }
            && [layer1, layer2, layer3, layer4].allSatisfy { stage in
                !stage.isTraining && stage.layers.allSatisfy { block in
                    switch block {
                    case let basic as BasicBlock: return basic.isEvaluating
                    case let bottleneck as Bottleneck: return bottleneck.isEvaluating
                    default: return false
                    }
                }
            }
    }

    /// `forward` on channel-blocked activations from the stem's output to the global pooling.
    func channelBlockedForward(_ x: Tensor) throws -> Tensor {
        var y = try conv1.channelBlocked(x, batchNorm: bn1, relu: true)
        y = y.channelBlockedMaxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        for stage in [layer1, layer2, layer3, layer4] {
            for block in stage.layers {
                switch block {
                case let basic as BasicBlock: y = try basic.channelBlockedForward(y)
                case let bottleneck as Bottleneck: y = try bottleneck.channelBlockedForward(y)
                default: throw ShapeError("channel-blocked inference: \(block.layerDescription) is not a ResNet block")
                }
            }
        }
        // The mean of each channel block over H and W is [N, C/16, 16]: the channels in order.
        let pooled = y.mean(axes: [2, 3]).reshaped([y.shape[0], y.shape[1] * Tensor.channelBlock])
        return try fc(pooled)
    }
}
