import TarsierCore
import TarsierNN

/// Error for a model name the zoo does not know.
public struct UnknownModelError: Error, CustomStringConvertible {
    public let name: String
    public init(name: String) { self.name = name }
    public var description: String {
        "unknown model '\(name)'; valid models: \(ModelZoo.names.joined(separator: ", "))"
    }
}

/// Builds models by name, for the CLI and for checkpoints that record their architecture.
public enum ModelZoo {
    /// The names `make` accepts.
    public static let names = ["resnet9s", "lenet5"] + ResNet.Depth.allCases.map(\.rawValue)
        + ["alexnet"] + VGG.names + ["mobilenet_v2", "googlenet", "inception_v3"]

    /// The models built for 28x28 one-channel Fashion-MNIST images; the others are torchvision's
    /// ImageNet architectures.
    public static let smallImageModels: Set<String> = ["resnet9s", "lenet5"]

    /// The input [channels, height, width] a model is meant for: 1x28x28 for lenet5 and resnet9s,
    /// 3x299x299 for inception_v3, 3x224x224 for the other torchvision models.
    public static func defaultInputShape(_ name: String) -> [Int] {
        if smallImageModels.contains(name) { return [1, 28, 28] }
        return name == "inception_v3" ? [3, 299, 299] : [3, 224, 224]
    }

    /// The class count a model is usually built with: 10 (Fashion-MNIST) or 1000 (ImageNet).
    public static func defaultClassCount(_ name: String) -> Int { smallImageModels.contains(name) ? 10 : 1000 }

    /// Builds the named model for `classCount` classes and `inputChannels`-channel images.
    public static func make(_ name: String, classCount: Int, inputChannels: Int) throws -> Module {
        switch name {
        case "resnet9s": return ResNet9.make(classCount: classCount, inputChannels: inputChannels)
        case "lenet5": return LeNet.make(classCount: classCount, inputChannels: inputChannels)
        case "alexnet": return AlexNet(classCount: classCount, inputChannels: inputChannels)
        case "mobilenet_v2": return MobileNetV2(classCount: classCount, inputChannels: inputChannels)
        case "googlenet": return GoogLeNet(classCount: classCount, inputChannels: inputChannels)
        case "inception_v3": return InceptionV3(classCount: classCount, inputChannels: inputChannels)
        default:
            if let vgg = VGG(name: name, classCount: classCount, inputChannels: inputChannels) { return vgg }
            guard let depth = ResNet.Depth(rawValue: name) else { throw UnknownModelError(name: name) }
            return ResNet(depth: depth, classCount: classCount, inputChannels: inputChannels)
        }
    }
}
