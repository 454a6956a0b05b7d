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

    public override func forward(_ x: Tensor) throws -> Tensor {
        var y = try conv1(x, batchNorm: bn1, relu: true)
        y = y.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        y = try layer4(layer3(layer2(layer1(y))))
        return try fc(y.adaptiveAvgPool2d((1, 1)).flattened())
    }
}
