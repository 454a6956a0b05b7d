import TarsierCore
import TarsierNN

/// GoogLeNet's Inception block: 1x1, 1x1→3x3, 1x1→3x3 (torchvision uses 3x3 where the paper has
/// 5x5) and 3x3 max pool→1x1 branches, concatenated along channels.
public final class InceptionBlock: Module {
    public let branch1: BasicConv2d
    public let branch2: Sequential, branch3: Sequential, branch4: Sequential

    public init(_ input: Int, _ ch1x1: Int, _ ch3x3red: Int, _ ch3x3: Int, _ ch5x5red: Int, _ ch5x5: Int, _ poolProj: Int) {
        branch1 = BasicConv2d(input, ch1x1, kernelSize: 1)
        branch2 = Sequential(BasicConv2d(input, ch3x3red, kernelSize: 1), BasicConv2d(ch3x3red, ch3x3, kernelSize: 3, padding: 1))
        branch3 = Sequential(BasicConv2d(input, ch5x5red, kernelSize: 1), BasicConv2d(ch5x5red, ch5x5, kernelSize: 3, padding: 1))
        branch4 = Sequential(MaxPool2d(kernelSize: 3, stride: 1, padding: 1, ceilMode: true),
                             BasicConv2d(input, poolProj, kernelSize: 1))
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        Tensor.concatenate([try branch1(x), try branch2(x), try branch3(x), try branch4(x)], axis: 1)
    }
}

/// GoogLeNet's auxiliary classifier (used by torchvision only in training mode).
public final class GoogLeNetAux: Module {
    public let conv: BasicConv2d
    public let fc1: Linear, fc2: Linear
    public let dropout: Dropout

    public init(_ input: Int, classCount: Int, dropout p: Double = 0.7) {
        conv = BasicConv2d(input, 128, kernelSize: 1)
        fc1 = Linear(inputFeatures: 2048, outputFeatures: 1024)
        fc2 = Linear(inputFeatures: 1024, outputFeatures: classCount)
        dropout = Dropout(probability: p)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let y = try conv(x.adaptiveAvgPool2d((4, 4))).flattened()
        return try fc2(dropout(fc1(y).relu()))
    }
}

/// torchvision's GoogLeNet (Inception v1) with its defaults: `aux_logits=True` (so `aux1.*` and
/// `aux2.*` keys exist), `transform_input=False`, init N(0, 0.01) for convolutions and linear layers
/// (torchvision truncates at ±2, i.e. ±200σ, which never binds). `forward` returns the main logits
/// only, as torchvision in evaluation mode; `forwardWithAuxiliary` gives all three in training mode.
public final class GoogLeNet: Module {
    public let conv1: BasicConv2d, maxpool1: MaxPool2d, conv2: BasicConv2d, conv3: BasicConv2d, maxpool2: MaxPool2d
    public let inception3a: InceptionBlock, inception3b: InceptionBlock, maxpool3: MaxPool2d
    public let inception4a: InceptionBlock, inception4b: InceptionBlock, inception4c: InceptionBlock
    public let inception4d: InceptionBlock, inception4e: InceptionBlock, maxpool4: MaxPool2d
    public let inception5a: InceptionBlock, inception5b: InceptionBlock
    public let aux1: GoogLeNetAux?, aux2: GoogLeNetAux?
    public let avgpool: AdaptiveAvgPool2d
    public let dropout: Dropout
    public let fc: Linear

    public init(classCount: Int = 1000, inputChannels: Int = 3, auxLogits: Bool = true, dropout p: Double = 0.2,
                auxDropout: Double = 0.7) {
        conv1 = BasicConv2d(inputChannels, 64, kernelSize: 7, stride: 2, padding: 3)
        maxpool1 = MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true)
        conv2 = BasicConv2d(64, 64, kernelSize: 1)
        conv3 = BasicConv2d(64, 192, kernelSize: 3, padding: 1)
        maxpool2 = MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true)
        inception3a = InceptionBlock(192, 64, 96, 128, 16, 32, 32)
        inception3b = InceptionBlock(256, 128, 128, 192, 32, 96, 64)
        maxpool3 = MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true)
        inception4a = InceptionBlock(480, 192, 96, 208, 16, 48, 64)
        inception4b = InceptionBlock(512, 160, 112, 224, 24, 64, 64)
        inception4c = InceptionBlock(512, 128, 128, 256, 24, 64, 64)
        inception4d = InceptionBlock(512, 112, 144, 288, 32, 64, 64)
        inception4e = InceptionBlock(528, 256, 160, 320, 32, 128, 128)
        maxpool4 = MaxPool2d(kernelSize: 2, stride: 2, ceilMode: true)
        inception5a = InceptionBlock(832, 256, 160, 320, 32, 128, 128)
        inception5b = InceptionBlock(832, 384, 192, 384, 48, 128, 128)
        aux1 = auxLogits ? GoogLeNetAux(512, classCount: classCount, dropout: auxDropout) : nil
        aux2 = auxLogits ? GoogLeNetAux(528, classCount: classCount, dropout: auxDropout) : nil
        avgpool = AdaptiveAvgPool2d(1)
        dropout = Dropout(probability: p)
        fc = Linear(inputFeatures: 1024, outputFeatures: classCount)
        super.init()
        for (_, m) in namedModules() {
            if let c = m as? BasicConv2d {
                c.weight.assign(TorchvisionInit.normal(c.weight.shape, std: 0.01))
            } else if let l = m as? Linear {
                l.weight.assign(TorchvisionInit.normal(l.weight.shape, std: 0.01))
            }
        }
    }

    /// Main logits, plus the auxiliary heads' logits (aux2, aux1 as torchvision's tuple order) when in
    /// training mode and the heads exist.
    public func forwardWithAuxiliary(_ x: Tensor) throws -> (logits: Tensor, aux2: Tensor?, aux1: Tensor?) {
        var y = try maxpool2(conv3(conv2(maxpool1(conv1(x)))))
        y = try inception4a(maxpool3(inception3b(inception3a(y))))
        let a1 = isTraining ? try aux1?(y) : nil
        y = try inception4d(inception4c(inception4b(y)))
        let a2 = isTraining ? try aux2?(y) : nil
        y = try inception5b(inception5a(maxpool4(inception4e(y))))
        let logits = try fc(dropout(avgpool(y).flattened()))
        return (logits, a2, a1)
    }

    public override func forward(_ x: Tensor) throws -> Tensor { try forwardWithAuxiliary(x).logits }
}
