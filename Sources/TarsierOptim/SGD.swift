import TarsierCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// exactly as `torch.optim.SGD`.
///
/// For each parameter p with gradient g (negated when `maximize`):
/// 1. g ← g + wd·p
/// 2. b ← g on the first step (no dampening), then b ← μ·b + (1−dampening)·g
/// 3. d ← g + μ·b with Nesterov, otherwise b (d ← g without momentum)
/// 4. p ← p − lr·d
public final class SGD: OptimizerBase {
    /// The momentum factor μ (a group's `momentum` overrides it).
    public let momentum: Double
    /// The dampening applied to the gradient in the momentum update after the first step.
    public let dampening: Double
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    /// Whether to ascend the objective instead of descending it.
    public let maximize: Bool

    /// Creates SGD over parameter groups.
    /// - Parameters:
    ///   - groups: The parameter groups; their unset values inherit the defaults below.
    ///   - learningRate: The default learning rate.
    ///   - momentum: The momentum factor (0 disables momentum).
    ///   - dampening: The dampening for momentum.
    ///   - weightDecay: The default L2 penalty added to the gradient.
    ///   - nesterov: Nesterov momentum; needs momentum > 0 and zero dampening.
    ///   - maximize: Ascend instead of descend.
    public init(groups: [ParameterGroup], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
        precondition(momentum >= 0, "invalid momentum \(momentum)")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.maximize = maximize
        super.init(groups: groups, learningRate: learningRate, weightDecay: weightDecay)
    }

    /// Creates SGD over one group of parameters.
    /// - Parameters:
    ///   - parameters: The parameters to update.
    ///   - learningRate: The learning rate.
    ///   - momentum: The momentum factor (0 disables momentum).
    ///   - dampening: The dampening for momentum.
    ///   - weightDecay: The L2 penalty added to the gradient.
    ///   - nesterov: Nesterov momentum; needs momentum > 0 and zero dampening.
    ///   - maximize: Ascend instead of descend.
    public convenience init(parameters: [Tensor], learningRate: Double, momentum: Double = 0,
                            dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false,
                            maximize: Bool = false) {
        self.init(groups: [ParameterGroup(parameters: parameters)], learningRate: learningRate,
                  momentum: momentum, dampening: dampening, weightDecay: weightDecay, nesterov: nesterov,
                  maximize: maximize)
    }

    /// `momentum_buffer`, as in PyTorch.
    public override var stateBufferNames: [String] { ["momentum_buffer"] }

    /// Applies the SGD update to one parameter.
    public override func update(_ update: ParameterUpdate) {
        switch update.dtype {
        case .float32: apply(update, Float.self)
        case .float64: apply(update, Double.self)
        }
    }

    private func apply<T: KernelScalar>(_ u: ParameterUpdate, _ type: T.Type) {
        let p = u.parameterPointer(as: T.self)
        let g = u.gradientPointer(as: T.self)
        let n = u.count
        let lr = T(u.learningRate), wd = T(u.weightDecay)
        let mu = u.momentum ?? momentum
        let sign: T = maximize ? -1 : 1
        guard mu != 0 else {
            for i in 0..<n { p[i] -= lr * (sign * g[i] + wd * p[i]) }
            return
        }
        let m = T(mu), keep = T(1 - dampening)
        let name = "momentum_buffer"
        if let existing = u.state.buffer(named: name) {
            let b = existing.pointer(as: T.self)
            if nesterov {
                for i in 0..<n {
                    let d = sign * g[i] + wd * p[i]
                    let bi = m * b[i] + keep * d
                    b[i] = bi
                    p[i] -= lr * (d + m * bi)
                }
            } else {
                for i in 0..<n {
                    let bi = m * b[i] + keep * (sign * g[i] + wd * p[i])
                    b[i] = bi
                    p[i] -= lr * bi
                }
            }
        } else {
            // PyTorch's first momentum step copies the gradient, without dampening.
            let b = u.zeroedBuffer(named: name, as: T.self)
            for i in 0..<n {
                let d = sign * g[i] + wd * p[i]
                b[i] = d
                p[i] -= lr * (nesterov ? d + m * d : d)
            }
        }
    }
}
