import TarsierCore

/// `min(max(x, 0), 6)`, as PyTorch's `nn.ReLU6` (MobileNet v2's activation).
public final class ReLU6: Module {
    public override init() { super.init() }
    public override func forward(_ x: Tensor) throws -> Tensor { x.clamped(min: 0, max: 6) }
}
