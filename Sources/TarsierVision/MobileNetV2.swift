import TarsierCore
import TarsierNN

/// torchvision's `Conv2dNormActivation` with ReLU6: `Sequential(conv (no bias), BatchNorm2d, ReLU6)`,
/// padding (k-1)/2.
func convBNReLU6(_ input: Int, _ output: Int, kernelSize: Int = 3, stride: Int = 1, groups: Int = 1) -> Sequential {
    Sequential(Conv2d(inputChannels: input, outputChannels: output, kernelSize: kernelSize, stride: stride,
                      padding: (kernelSize - 1) / 2, groups: groups, bias: false),
               BatchNorm2d(output), ReLU6())
}

/// MobileNet v2's inverted residual: 1x1 expansion (unless the ratio is 1), 3x3 depthwise convolution,
/// 1x1 linear projection; identity shortcut when the stride is 1 and the channels stay. Keys
/// `conv.0.0.weight` … as torchvision.
public final class InvertedResidual: Module {
    public let conv: Sequential
    public let usesResidual: Bool

    public init(inputChannels: Int, outputChannels: Int, stride: Int, expandRatio: Int) {
        precondition(stride == 1 || stride == 2, "InvertedResidual stride must be 1 or 2, got \(stride)")
        let hidden = inputChannels * expandRatio
        usesResidual = stride == 1 && inputChannels == outputChannels
        var layers: [Module] = []
        if expandRatio != 1 { layers.append(convBNReLU6(inputChannels, hidden, kernelSize: 1)) }
        layers += [
            convBNReLU6(hidden, hidden, stride: stride, groups: hidden),
            Conv2d(inputChannels: hidden, outputChannels: outputChannels, kernelSize: 1, bias: false),
            BatchNorm2d(outputChannels),
        ]
        conv = Sequential(layers)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let y = try conv(x)
        return usesResidual ? x + y : y
    }
}

/// torchvision's MobileNet v2 (width 1.0): `features.0` … `features.18`, `classifier.1`;
/// torchvision's initialisation (Kaiming-normal fan-out convolutions, N(0, 0.01) linear, zero biases).
public final class MobileNetV2: Module {
    public let features: Sequential
    public let classifier: Sequential

    public init(classCount: Int = 1000, inputChannels: Int = 3, dropout: Double = 0.2) {
        // t (expansion), c (channels), n (repeats), s (first stride)
        let settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                        (6, 320, 1, 1)]
        var layers: [Module] = [convBNReLU6(inputChannels, 32, stride: 2)]
        var channels = 32
        for (t, c, n, s) in settings {
            for i in 0..<n {
                layers.append(InvertedResidual(inputChannels: channels, outputChannels: c, stride: i == 0 ? s : 1,
                                               expandRatio: t))
                channels = c
            }
        }
        layers.append(convBNReLU6(channels, 1280, kernelSize: 1))
        features = Sequential(layers)
        classifier = Sequential(Dropout(probability: dropout), Linear(inputFeatures: 1280, outputFeatures: classCount))
        super.init()
        TorchvisionInit.kaimingConvNormalLinear(self, linearStd: 0.01)
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try classifier(features(x).adaptiveAvgPool2d((1, 1)).flattened())
    }
}
