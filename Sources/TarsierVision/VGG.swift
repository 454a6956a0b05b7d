import TarsierCore
import TarsierNN

/// torchvision's VGG (configurations A, B, D, E = vgg11, 13, 16, 19, with or without batch norm).
/// Keys `features.N.*`, `classifier.{0,3,6}.*`; torchvision's initialisation (Kaiming-normal fan-out
/// convolutions, N(0, 0.01) linear layers, zero biases).
public final class VGG: Module {
    public enum Configuration: String, CaseIterable, Sendable {
        case vgg11, vgg13, vgg16, vgg19

        /// Output channels of each 3x3 convolution; 0 is a 2x2 max pool.
        var layers: [Int] {
            switch self {
            case .vgg11: return [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0]
            case .vgg13: return [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0]
            case .vgg16: return [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]
            case .vgg19:
                return [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0]
            }
        }
    }

    /// torchvision's names: vgg11 … vgg19, vgg11_bn … vgg19_bn.
    public static let names = Configuration.allCases.map(\.rawValue) + Configuration.allCases.map { $0.rawValue + "_bn" }

    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2d
    public let classifier: Sequential

    public init(_ configuration: Configuration, batchNorm: Bool, classCount: Int = 1000, inputChannels: Int = 3,
                dropout: Double = 0.5) {
        features = VGG.makeFeatures(configuration, batchNorm: batchNorm, inputChannels: inputChannels)
        avgpool = AdaptiveAvgPool2d(7)
        classifier = Sequential(
            Linear(inputFeatures: 512 * 7 * 7, outputFeatures: 4096), ReLU(), Dropout(probability: dropout),
            Linear(inputFeatures: 4096, outputFeatures: 4096), ReLU(), Dropout(probability: dropout),
            Linear(inputFeatures: 4096, outputFeatures: classCount))
        super.init()
        for case let linear as Linear in classifier.layers {
            linear.weight.assign(TorchvisionInit.normal(linear.weight.shape, std: 0.01))
            linear.bias?.assign(Tensor(zeros: [linear.outputFeatures]))
        }
    }

    /// The convolutional part (`features`), initialised as torchvision does.
    public static func makeFeatures(_ configuration: Configuration, batchNorm: Bool, inputChannels: Int = 3) -> Sequential {
        var layers: [Module] = []
        var channels = inputChannels
        for v in configuration.layers {
            if v == 0 {
                layers.append(MaxPool2d(kernelSize: 2, stride: 2))
            } else {
                layers.append(Conv2d(inputChannels: channels, outputChannels: v, kernelSize: 3, padding: 1))
                if batchNorm { layers.append(BatchNorm2d(v)) }
                layers.append(ReLU())
                channels = v
            }
        }
        let features = Sequential(layers)
        TorchvisionInit.kaimingConvNormalLinear(features, linearStd: 0.01)
        return features
    }

    /// Builds from a torchvision name (`vgg16`, `vgg16_bn`); nil for other names.
    public convenience init?(name: String, classCount: Int = 1000, inputChannels: Int = 3) {
        let batchNorm = name.hasSuffix("_bn")
        guard let c = Configuration(rawValue: batchNorm ? String(name.dropLast(3)) : name) else { return nil }
        self.init(c, batchNorm: batchNorm, classCount: classCount, inputChannels: inputChannels)
    }

    /// In evaluation without gradient recording, on the CPU, `features` runs on channel-blocked
    /// activations (`ChannelBlockedInference`), unblocked before the pooling.
    public override func forward(_ x: Tensor) throws -> Tensor {
        try classifier(avgpool(features.forwardChannelBlockedWhereItApplies(x)).flattened())
    }
}
