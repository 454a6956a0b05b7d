import TarsierCore
import TarsierNN

/// torchvision's AlexNet (`features`, `avgpool`, `classifier`; keys `features.0.weight` … `classifier.6.bias`)
/// with PyTorch's default layer initialisation, as torchvision.
public final class AlexNet: Module {
    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2d
    public let classifier: Sequential

    public init(classCount: Int = 1000, inputChannels: Int = 3, dropout: Double = 0.5) {
        features = Sequential(
            Conv2d(inputChannels: inputChannels, outputChannels: 64, kernelSize: 11, stride: 4, padding: 2), ReLU(),
            MaxPool2d(kernelSize: 3, stride: 2),
            Conv2d(inputChannels: 64, outputChannels: 192, kernelSize: 5, padding: 2), ReLU(),
            MaxPool2d(kernelSize: 3, stride: 2),
            Conv2d(inputChannels: 192, outputChannels: 384, kernelSize: 3, padding: 1), ReLU(),
            Conv2d(inputChannels: 384, outputChannels: 256, kernelSize: 3, padding: 1), ReLU(),
            Conv2d(inputChannels: 256, outputChannels: 256, kernelSize: 3, padding: 1), ReLU(),
            MaxPool2d(kernelSize: 3, stride: 2))
        avgpool = AdaptiveAvgPool2d(6)
        classifier = Sequential(
            Dropout(probability: dropout), Linear(inputFeatures: 256 * 6 * 6, outputFeatures: 4096), ReLU(),
            Dropout(probability: dropout), Linear(inputFeatures: 4096, outputFeatures: 4096), ReLU(),
            Linear(inputFeatures: 4096, outputFeatures: classCount))
        super.init()
    }

    /// In evaluation without gradient recording, on the CPU, `features` runs on channel-blocked
    /// activations (`ChannelBlockedInference`), unblocked before the pooling.
    public override func forward(_ x: Tensor) throws -> Tensor {
        try classifier(avgpool(features.forwardChannelBlockedWhereItApplies(x)).flattened())
    }
}
