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

    /// Builds the named model for `classCount` classes and `inputChannels`-channel images.
    public static func make(_ name: String, classCount: Int, inputChannels: Int) throws -> Module {
        switch name {
        case "resnet9s": return ResNet9.make(classCount: classCount, inputChannels: inputChannels)
        case "lenet5": return LeNet.make(classCount: classCount, inputChannels: inputChannels)
        default:
            guard let depth = ResNet.Depth(rawValue: name) else { throw UnknownModelError(name: name) }
            return ResNet(depth: depth, classCount: classCount, inputChannels: inputChannels)
        }
    }
}
