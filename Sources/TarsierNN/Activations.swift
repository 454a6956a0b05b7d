import TarsierCore

/// max(x, 0).
public final class ReLU: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.relu() }
}

/// x for x > 0, slope·x otherwise.
public final class LeakyReLU: Module {
    public let negativeSlope: Double
    /// Creates the layer with PyTorch's default slope 0.01.
    public init(negativeSlope: Double = 0.01) { self.negativeSlope = negativeSlope; super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.leakyRelu(slope: negativeSlope) }
}

/// The logistic function.
public final class Sigmoid: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.sigmoid() }
}

/// Hyperbolic tangent.
public final class Tanh: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.tanh() }
}

/// GELU (exact erf form).
public final class GELU: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.gelu() }
}

/// Returns its input.
public final class Identity: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x }
}

/// Multiplies by a constant (the logit scale of ResNet-9-style nets).
public final class Scale: Module {
    public let factor: Double
    public init(_ factor: Double) { self.factor = factor; super.init() }
    public override var layerDescription: String { "Scale(\(factor))" }
    public override func forward(_ x: Tensor) throws -> Tensor { x * factor }
}

/// Flattens axes `startDimension...endDimension` (PyTorch's `nn.Flatten`, default 1...-1).
public final class Flatten: Module {
    public let startDimension: Int, endDimension: Int
    public init(startDimension: Int = 1, endDimension: Int = -1) {
        self.startDimension = startDimension
        self.endDimension = endDimension
        super.init()
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank > startDimension else { throw ShapeError("Flatten(\(startDimension)) got input \(x.shape)") }
        return x.flattened(from: startDimension, through: endDimension)
    }
}

/// Zeroes elements with probability p in training and scales the rest by 1/(1-p).
public final class Dropout: Module {
    public let probability: Double
    public init(probability: Double = 0.5) {
        precondition(probability >= 0 && probability < 1, "Dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        super.init()
    }
    public override var layerDescription: String { "Dropout(p=\(probability))" }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard isTraining, probability > 0 else { return x }
        let keep = 1 - probability
        let mask = RandomState.with { g -> Tensor in
            let m = Tensor(uninitialized: x.shape, dtype: x.dtype, device: x.device)
            let n = m.count
            switch x.dtype {
            case .float32: for i in 0..<n { m.storage.floats[i] = g.nextUnitDouble() < keep ? Float(1 / keep) : 0 }
            case .float64: for i in 0..<n { m.storage.doubles[i] = g.nextUnitDouble() < keep ? 1 / keep : 0 }
            }
            return m
        }
        return x * mask
    }
}
