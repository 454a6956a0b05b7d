import TarsierCore
import TarsierNN

/// The residual pair of a ResNet-9-style net: x + b(a(x)), each a conv-BN-ReLU.
public final class Residual: Module {
    public let a: Sequential, b: Sequential
    public init(channels: Int) {
        a = ResNet9.convBNReLU(channels, channels)
        b = ResNet9.convBNReLU(channels, channels)
        super.init()
    }
    public override func forward(_ x: Tensor) throws -> Tensor { x + (try b(a(x))) }
}

/// A small, fast ResNet-9-style net for 28x28 input (the Fashion-MNIST default), keyed as the
/// `resnet9s` of the PyTorch time-to-accuracy anchor so weights move both ways.
///
/// conv(16) → [conv, maxpool, BN, ReLU, (residual)] × 3 at widths 32-64-128 → adaptive max pool →
/// linear (no bias) → ×0.125. Spatial 28 → 14 → 7 → 3.
public enum ResNet9 {
    static func convBNReLU(_ input: Int, _ output: Int) -> Sequential {
        Sequential(Conv2d(inputChannels: input, outputChannels: output, kernelSize: 3, padding: 1, bias: false),
                   BatchNorm2d(output), ReLU())
    }

    /// Builds the net.
    public static func make(classCount: Int = 10, inputChannels: Int = 1, widths: [Int] = [32, 64, 128],
                            residual: [Bool] = [false, true, true]) -> Sequential {
        let stem = widths[0] >= 32 ? widths[0] / 2 : widths[0]
        var layers: [Module] = [convBNReLU(inputChannels, stem)]
        var channels = stem
        for (i, width) in widths.enumerated() {
            layers += [Conv2d(inputChannels: channels, outputChannels: width, kernelSize: 3, padding: 1, bias: false),
                       MaxPool2d(kernelSize: 2), BatchNorm2d(width), ReLU()]
            if residual[i] { layers.append(Residual(channels: width)) }
            channels = width
        }
        layers += [AdaptiveMaxPool2d(1), Flatten(), Linear(inputFeatures: channels, outputFeatures: classCount, bias: false),
                   Scale(0.125)]
        return Sequential(layers)
    }
}
