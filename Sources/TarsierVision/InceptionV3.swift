import TarsierCore
import TarsierNN

private func cat(_ xs: [Tensor]) -> Tensor { Tensor.concatenate(xs, axis: 1) }

/// Inception v3's 3x3 average pool, stride 1, padding 1 (zeros counted, as `F.avg_pool2d`'s default).
private func avgPool3(_ x: Tensor) -> Tensor {
    x.avgPool2d(kernel: (3, 3), stride: (1, 1), padding: (1, 1), ceilMode: false, countIncludePad: true)
}

private func maxPool3s2(_ x: Tensor) -> Tensor { x.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (0, 0)) }

public final class InceptionA: Module {
    public let branch1x1: BasicConv2d, branch5x5_1: BasicConv2d, branch5x5_2: BasicConv2d
    public let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d, branch3x3dbl_3: BasicConv2d
    public let branch_pool: BasicConv2d

    public init(_ input: Int, poolFeatures: Int) {
        branch1x1 = BasicConv2d(input, 64, kernelSize: 1)
        branch5x5_1 = BasicConv2d(input, 48, kernelSize: 1)
        branch5x5_2 = BasicConv2d(48, 64, kernelSize: 5, padding: 2)
        branch3x3dbl_1 = BasicConv2d(input, 64, kernelSize: 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, kernelSize: 3, padding: 1)
        branch3x3dbl_3 = BasicConv2d(96, 96, kernelSize: 3, padding: 1)
        branch_pool = BasicConv2d(input, poolFeatures, kernelSize: 1)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        cat([try branch1x1(x), try branch5x5_2(branch5x5_1(x)),
             try branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), try branch_pool(avgPool3(x))])
    }
}

public final class InceptionB: Module {
    public let branch3x3: BasicConv2d
    public let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d, branch3x3dbl_3: BasicConv2d

    public init(_ input: Int) {
        branch3x3 = BasicConv2d(input, 384, kernelSize: 3, stride: 2)
        branch3x3dbl_1 = BasicConv2d(input, 64, kernelSize: 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, kernelSize: 3, padding: 1)
        branch3x3dbl_3 = BasicConv2d(96, 96, kernelSize: 3, stride: 2)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        cat([try branch3x3(x), try branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), maxPool3s2(x)])
    }
}

public final class InceptionC: Module {
    public let branch1x1: BasicConv2d
    public let branch7x7_1: BasicConv2d, branch7x7_2: BasicConv2d, branch7x7_3: BasicConv2d
    public let branch7x7dbl_1: BasicConv2d, branch7x7dbl_2: BasicConv2d, branch7x7dbl_3: BasicConv2d
    public let branch7x7dbl_4: BasicConv2d, branch7x7dbl_5: BasicConv2d
    public let branch_pool: BasicConv2d

    public init(_ input: Int, channels7x7 c7: Int) {
        branch1x1 = BasicConv2d(input, 192, kernelSize: 1)
        branch7x7_1 = BasicConv2d(input, c7, kernelSize: 1)
        branch7x7_2 = BasicConv2d(c7, c7, kernelSize: (1, 7), padding: (0, 3))
        branch7x7_3 = BasicConv2d(c7, 192, kernelSize: (7, 1), padding: (3, 0))
        branch7x7dbl_1 = BasicConv2d(input, c7, kernelSize: 1)
        branch7x7dbl_2 = BasicConv2d(c7, c7, kernelSize: (7, 1), padding: (3, 0))
        branch7x7dbl_3 = BasicConv2d(c7, c7, kernelSize: (1, 7), padding: (0, 3))
        branch7x7dbl_4 = BasicConv2d(c7, c7, kernelSize: (7, 1), padding: (3, 0))
        branch7x7dbl_5 = BasicConv2d(c7, 192, kernelSize: (1, 7), padding: (0, 3))
        branch_pool = BasicConv2d(input, 192, kernelSize: 1)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let b7 = try branch7x7_3(branch7x7_2(branch7x7_1(x)))
        let d7 = try branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))))
        return cat([try branch1x1(x), b7, d7, try branch_pool(avgPool3(x))])
    }
}

public final class InceptionD: Module {
    public let branch3x3_1: BasicConv2d, branch3x3_2: BasicConv2d
    public let branch7x7x3_1: BasicConv2d, branch7x7x3_2: BasicConv2d, branch7x7x3_3: BasicConv2d
    public let branch7x7x3_4: BasicConv2d

    public init(_ input: Int) {
        branch3x3_1 = BasicConv2d(input, 192, kernelSize: 1)
        branch3x3_2 = BasicConv2d(192, 320, kernelSize: 3, stride: 2)
        branch7x7x3_1 = BasicConv2d(input, 192, kernelSize: 1)
        branch7x7x3_2 = BasicConv2d(192, 192, kernelSize: (1, 7), padding: (0, 3))
        branch7x7x3_3 = BasicConv2d(192, 192, kernelSize: (7, 1), padding: (3, 0))
        branch7x7x3_4 = BasicConv2d(192, 192, kernelSize: 3, stride: 2)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        cat([try branch3x3_2(branch3x3_1(x)),
             try branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x)))), maxPool3s2(x)])
    }
}

public final class InceptionE: Module {
    public let branch1x1: BasicConv2d
    public let branch3x3_1: BasicConv2d, branch3x3_2a: BasicConv2d, branch3x3_2b: BasicConv2d
    public let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d
    public let branch3x3dbl_3a: BasicConv2d, branch3x3dbl_3b: BasicConv2d
    public let branch_pool: BasicConv2d

    public init(_ input: Int) {
        branch1x1 = BasicConv2d(input, 320, kernelSize: 1)
        branch3x3_1 = BasicConv2d(input, 384, kernelSize: 1)
        branch3x3_2a = BasicConv2d(384, 384, kernelSize: (1, 3), padding: (0, 1))
        branch3x3_2b = BasicConv2d(384, 384, kernelSize: (3, 1), padding: (1, 0))
        branch3x3dbl_1 = BasicConv2d(input, 448, kernelSize: 1)
        branch3x3dbl_2 = BasicConv2d(448, 384, kernelSize: 3, padding: 1)
        branch3x3dbl_3a = BasicConv2d(384, 384, kernelSize: (1, 3), padding: (0, 1))
        branch3x3dbl_3b = BasicConv2d(384, 384, kernelSize: (3, 1), padding: (1, 0))
        branch_pool = BasicConv2d(input, 192, kernelSize: 1)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let b3 = try branch3x3_1(x)
        let d3 = try branch3x3dbl_2(branch3x3dbl_1(x))
        return cat([try branch1x1(x), cat([try branch3x3_2a(b3), try branch3x3_2b(b3)]),
                    cat([try branch3x3dbl_3a(d3), try branch3x3dbl_3b(d3)]), try branch_pool(avgPool3(x))])
    }
}

/// Inception v3's auxiliary classifier (`AuxLogits.conv0`, `conv1`, `fc`).
public final class InceptionAux: Module {
    public let conv0: BasicConv2d, conv1: BasicConv2d
    public let fc: Linear

    public init(_ input: Int, classCount: Int) {
        conv0 = BasicConv2d(input, 128, kernelSize: 1)
        conv1 = BasicConv2d(128, 768, kernelSize: 5)
        fc = Linear(inputFeatures: 768, outputFeatures: classCount)
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let y = x.avgPool2d(kernel: (5, 5), stride: (3, 3), padding: (0, 0), ceilMode: false, countIncludePad: true)
        return try fc(conv1(conv0(y)).adaptiveAvgPool2d((1, 1)).flattened())
    }
}

/// torchvision's Inception v3 with its defaults (`aux_logits=True`, so `AuxLogits.*` keys exist;
/// `transform_input=False`); expects 299x299 input. Initialisation N(0, σ) with σ = 0.1, 0.01 for
/// `AuxLogits.conv1` and 0.001 for `AuxLogits.fc` (torchvision truncates at ±2, ≥ 20σ, which
/// practically never binds). `forward` returns the main logits only, as torchvision in evaluation mode.
public final class InceptionV3: Module {
    public let conv2d_1a_3x3: BasicConv2d, conv2d_2a_3x3: BasicConv2d, conv2d_2b_3x3: BasicConv2d
    public let conv2d_3b_1x1: BasicConv2d, conv2d_4a_3x3: BasicConv2d
    public let mixed_5b: InceptionA, mixed_5c: InceptionA, mixed_5d: InceptionA
    public let mixed_6a: InceptionB
    public let mixed_6b: InceptionC, mixed_6c: InceptionC, mixed_6d: InceptionC, mixed_6e: InceptionC
    public let auxLogits: InceptionAux?
    public let mixed_7a: InceptionD, mixed_7b: InceptionE, mixed_7c: InceptionE
    public let dropout: Dropout
    public let fc: Linear

    public init(classCount: Int = 1000, inputChannels: Int = 3, auxLogits hasAux: Bool = true, dropout p: Double = 0.5) {
        conv2d_1a_3x3 = BasicConv2d(inputChannels, 32, kernelSize: 3, stride: 2)
        conv2d_2a_3x3 = BasicConv2d(32, 32, kernelSize: 3)
        conv2d_2b_3x3 = BasicConv2d(32, 64, kernelSize: 3, padding: 1)
        conv2d_3b_1x1 = BasicConv2d(64, 80, kernelSize: 1)
        conv2d_4a_3x3 = BasicConv2d(80, 192, kernelSize: 3)
        mixed_5b = InceptionA(192, poolFeatures: 32)
        mixed_5c = InceptionA(256, poolFeatures: 64)
        mixed_5d = InceptionA(288, poolFeatures: 64)
        mixed_6a = InceptionB(288)
        mixed_6b = InceptionC(768, channels7x7: 128)
        mixed_6c = InceptionC(768, channels7x7: 160)
        mixed_6d = InceptionC(768, channels7x7: 160)
        mixed_6e = InceptionC(768, channels7x7: 192)
        auxLogits = hasAux ? InceptionAux(768, classCount: classCount) : nil
        mixed_7a = InceptionD(768)
        mixed_7b = InceptionE(1280)
        mixed_7c = InceptionE(2048)
        dropout = Dropout(probability: p)
        fc = Linear(inputFeatures: 2048, outputFeatures: classCount)
        super.init()
        for (key, m) in namedModules() {
            let std = key == "AuxLogits.conv1" ? 0.01 : key == "AuxLogits.fc" ? 0.001 : 0.1
            if let c = m as? BasicConv2d {
                c.weight.assign(TorchvisionInit.normal(c.weight.shape, std: std))
            } else if let l = m as? Linear {
                l.weight.assign(TorchvisionInit.normal(l.weight.shape, std: std))
            }
        }
    }

    /// torchvision's attribute names (`Conv2d_1a_3x3`, `Mixed_5b`, `AuxLogits`), which are not the
    /// snake_case of Swift property names.
    public override func namedChildren() -> [(String, Module)] {
        var children: [(String, Module)] = [
            ("Conv2d_1a_3x3", conv2d_1a_3x3), ("Conv2d_2a_3x3", conv2d_2a_3x3), ("Conv2d_2b_3x3", conv2d_2b_3x3),
            ("Conv2d_3b_1x1", conv2d_3b_1x1), ("Conv2d_4a_3x3", conv2d_4a_3x3),
            ("Mixed_5b", mixed_5b), ("Mixed_5c", mixed_5c), ("Mixed_5d", mixed_5d), ("Mixed_6a", mixed_6a),
            ("Mixed_6b", mixed_6b), ("Mixed_6c", mixed_6c), ("Mixed_6d", mixed_6d), ("Mixed_6e", mixed_6e),
        ]
        if let auxLogits { children.append(("AuxLogits", auxLogits)) }
        children += [("Mixed_7a", mixed_7a), ("Mixed_7b", mixed_7b), ("Mixed_7c", mixed_7c),
                     ("dropout", dropout), ("fc", fc)]
        return children
    }

    /// Main logits, plus the auxiliary logits in training mode when the head exists.
    public func forwardWithAuxiliary(_ x: Tensor) throws -> (logits: Tensor, aux: Tensor?) {
        var y = try conv2d_2b_3x3(conv2d_2a_3x3(conv2d_1a_3x3(x)))
        y = try conv2d_4a_3x3(conv2d_3b_1x1(maxPool3s2(y)))
        y = try mixed_6a(mixed_5d(mixed_5c(mixed_5b(maxPool3s2(y)))))
        y = try mixed_6e(mixed_6d(mixed_6c(mixed_6b(y))))
        let aux = isTraining ? try auxLogits?(y) : nil
        y = try mixed_7c(mixed_7b(mixed_7a(y)))
        let logits = try fc(dropout(y.adaptiveAvgPool2d((1, 1))).flattened())
        return (logits, aux)
    }

    public override func forward(_ x: Tensor) throws -> Tensor { try forwardWithAuxiliary(x).logits }
}
