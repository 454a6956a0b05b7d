/// Element-wise arithmetic and math functions with broadcasting, each with its gradient.
extension Tensor {
    /// The NumPy broadcast of two shapes.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        return (0..<rank).map { i -> Int in
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
            return Swift.max(x, y)
        }
    }

    /// Sums a broadcast gradient back down to `target` (the operand's shape).
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        var axes: [Int] = Array(0..<lead)
        for (i, size) in target.enumerated() where size == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepingDimensions: true).reshaped(target)
    }

    /// Applies a unary op through the backend, recording `derivative` for autodiff. Dense inputs
    /// keep their layout.
    func unaryOp(_ op: UnaryOp, derivative: @escaping (_ x: Tensor, _ y: Tensor, _ g: Tensor) -> Tensor) -> Tensor {
        let x = isDense ? self.detached() : contiguous()
        let y = device.backend.unary(op, x).relabeled(strides: x.strides)
        return Autograd.record(y, inputs: [self]) { g in [derivative(x, y, g)] }
    }

    /// Applies a binary op through the backend with broadcasting (no autodiff). Operands of the
    /// same shape and dense layout are combined element by element and keep that layout.
    func rawBinary(_ op: BinaryOp, _ other: Tensor) -> Tensor {
        if shape == other.shape && isDense {
            let b = other.strides == strides && other.isDense ? other : other.withLayout(of: self)
            return device.backend.binary(op, self, b, outputShape: shape).relabeled(strides: strides)
        }
        let a = contiguous(), b = other.contiguous()
        let outShape = Tensor.broadcastShape(a.shape, b.shape)
        return device.backend.binary(op, a, b, outputShape: outShape)
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let y = a.rawBinary(.add, b)
        return Autograd.record(y, inputs: [a, b]) { g in [g.sum(toShape: a.shape), g.sum(toShape: b.shape)] }
    }

    /// `(self + other).relu()` in one pass over the data, as a residual connection's add and the
    /// ReLU after it; broadcasts like `+`.
    public func reluOfSum(_ other: Tensor) -> Tensor {
        let y = rawBinary(.addReLU, other)
        return Autograd.record(y, inputs: [self, other]) { g in
            let masked = y.rawBinary(.reluBackward, g)
            return [masked.sum(toShape: self.shape), masked.sum(toShape: other.shape)]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let y = a.rawBinary(.subtract, b)
        return Autograd.record(y, inputs: [a, b]) { g in [g.sum(toShape: a.shape), (-g).sum(toShape: b.shape)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let y = a.rawBinary(.multiply, b)
        return Autograd.record(y, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * b).sum(toShape: a.shape) : nil,
             b.requiresGrad ? (g * a).sum(toShape: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let y = a.rawBinary(.divide, b)
        return Autograd.record(y, inputs: [a, b]) { g in
            [a.requiresGrad ? (g / b).sum(toShape: a.shape) : nil,
             b.requiresGrad ? (-(g * y) / b).sum(toShape: b.shape) : nil]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        x.unaryOp(.negate) { _, _, g in -g }
    }

    public static func + (a: Tensor, s: Double) -> Tensor { a.unaryOp(.addScalar(s)) { _, _, g in g } }
    public static func + (s: Double, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Double) -> Tensor { a + (-s) }
    public static func - (s: Double, a: Tensor) -> Tensor { (-a) + s }
    public static func * (a: Tensor, s: Double) -> Tensor { a.unaryOp(.scale(s)) { _, _, g in g * s } }
    public static func * (s: Double, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Double) -> Tensor { a * (1 / s) }
    public static func / (s: Double, a: Tensor) -> Tensor { a.reciprocal() * s }

    /// Element-wise maximum of two broadcast tensors (gradient goes to the larger; ties to `self`).
    public func maximum(_ other: Tensor) -> Tensor {
        let y = rawBinary(.maximum, other)
        return Autograd.record(y, inputs: [self, other]) { [self] g in
            let mask = self.rawBinary(.equalMask, y)
            return [(g * mask).sum(toShape: self.shape), (g * (1 - mask)).sum(toShape: other.shape)]
        }
    }

    /// Element-wise minimum of two broadcast tensors.
    public func minimum(_ other: Tensor) -> Tensor { -((-self).maximum(-other)) }

    /// e^x.
    public func exp() -> Tensor { unaryOp(.exp) { _, y, g in g * y } }
    /// Natural logarithm.
    public func log() -> Tensor { unaryOp(.log) { x, _, g in g / x } }
    /// Square root.
    public func sqrt() -> Tensor { unaryOp(.sqrt) { _, y, g in g / (y * 2) } }
    /// Absolute value (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        unaryOp(.abs) { x, y, g in g * x.rawBinary(.divide, y.rawBinary(.maximum, Tensor(scalar: 1e-30, dtype: x.dtype, device: x.device))) }
    }
    /// x².
    public func squared() -> Tensor { unaryOp(.square) { x, _, g in g * x * 2 } }
    /// 1 / x.
    public func reciprocal() -> Tensor { unaryOp(.reciprocal) { _, y, g in -(g * y * y) } }
    /// x raised to a constant power.
    public func pow(_ p: Double) -> Tensor {
        unaryOp(.powScalar(p)) { x, _, g in g * x.device.backend.unary(.powScalar(p - 1), x).relabeled(strides: x.strides) * p }
    }
    /// Clamps into [lo, hi]; the gradient passes where the value was inside.
    public func clamped(min lo: Double, max hi: Double) -> Tensor {
        unaryOp(.clamp(min: lo, max: hi)) { x, y, g in g * x.rawBinary(.equalMask, y) }
    }
    /// max(x, 0).
    public func relu() -> Tensor { unaryOp(.relu) { x, _, g in x.rawBinary(.reluBackward, g) } }
    /// x for x > 0, slope·x otherwise.
    public func leakyRelu(slope: Double = 0.01) -> Tensor {
        unaryOp(.leakyRelu(slope: slope)) { x, _, g in x.rawBinary(.leakyReluBackward(slope: slope), g) }
    }
    /// 1 / (1 + e^-x).
    public func sigmoid() -> Tensor {
        unaryOp(.sigmoid) { _, y, g in y.rawBinary(.sigmoidBackward, g) }
    }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        unaryOp(.tanh) { _, y, g in y.rawBinary(.tanhBackward, g) }
    }
    /// GELU with the exact erf form (PyTorch's default).
    public func gelu() -> Tensor {
        unaryOp(.gelu) { x, _, g in x.rawBinary(.geluBackward, g) }
    }
}
