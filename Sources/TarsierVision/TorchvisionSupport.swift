import TarsierCore
import TarsierNN

/// Initialisation schemes torchvision's model constructors apply after building the layers.
enum TorchvisionInit {
    /// A normal tensor with mean 0 and the given standard deviation.
    static func normal(_ shape: [Int], std: Double) -> Tensor {
        RandomState.with { Tensor.normal(shape, standardDeviation: std, generator: &$0) }
    }

    /// VGG / MobileNet v2: convolutions Kaiming-normal (fan_out, ReLU gain), biases 0; linear layers
    /// N(0, `linearStd`), biases 0; batch norms keep their unit weight and zero bias.
    static func kaimingConvNormalLinear(_ model: Module, linearStd: Double) {
        for (_, m) in model.namedModules() {
            if let conv = m as? Conv2d {
                let fanOut = conv.outputChannels / conv.groups * conv.kernelSize.0 * conv.kernelSize.1
                conv.weight.assign(Initializer.kaimingNormal(conv.weight.shape, fan: fanOut))
                conv.bias?.assign(Tensor(zeros: conv.weight.shape.prefix(1).map { $0 }))
            } else if let linear = m as? Linear {
                linear.weight.assign(normal(linear.weight.shape, std: linearStd))
                linear.bias?.assign(Tensor(zeros: [linear.outputFeatures]))
            }
        }
    }
}

/// torchvision's `BasicConv2d` of GoogLeNet and Inception v3: convolution without bias, batch norm
/// with epsilon 0.001, ReLU. Keys `conv.weight`, `bn.*`.
public final class BasicConv2d: Module {
    public let conv: Conv2d
    public let bn: BatchNorm2d

    /// A square kernel.
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0) {
        conv = Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
                      padding: padding, bias: false)
        bn = BatchNorm2d(outputChannels, epsilon: 0.001)
        super.init()
    }

    /// A rectangular kernel (kh, kw) with padding (ph, pw).
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: (Int, Int), padding: (Int, Int)) {
        conv = Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
                      padding: padding, bias: false)
        bn = BatchNorm2d(outputChannels, epsilon: 0.001)
        super.init()
    }

    /// The convolution's weight, for re-initialisation.
    var weight: Tensor { conv.weight }

    public override func forward(_ x: Tensor) throws -> Tensor { try bn(conv(x)).relu() }
}
