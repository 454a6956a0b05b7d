import TarsierCore

/// Adam with L2 weight decay and optional AMSGrad, exactly as `torch.optim.Adam`.
///
/// At the parameter's t-th update, with gradient g (negated when `maximize`):
/// 1. g ← g + wd·p (L2; `AdamW` instead decays p ← p·(1 − lr·wd) first)
/// 2. m ← β1·m + (1−β1)·g and v ← β2·v + (1−β2)·g²
/// 3. with AMSGrad, v̂ ← max(v̂, v) replaces v below
/// 4. p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε); ε is added after the bias correction
public class Adam: OptimizerBase {
    /// The decay rates of the first and second moment estimates (a group's `momentum` overrides β1).
    public let betas: (Double, Double)
    /// Added to the denominator for numerical stability.
    public let epsilon: Double
    /// Whether to use the running maximum of the second moment (AMSGrad).
    public let amsgrad: Bool
    /// Whether to ascend the objective instead of descending it.
    public let maximize: Bool
    /// True for AdamW: weight decay shrinks the parameter instead of adding to the gradient.
    public let decoupledWeightDecay: Bool

    /// Creates Adam over parameter groups.
    /// - Parameters:
    ///   - groups: The parameter groups; their unset values inherit the defaults below.
    ///   - learningRate: The default learning rate.
    ///   - betas: The decay rates (β1, β2) of the moment estimates.
    ///   - epsilon: The denominator's stabiliser.
    ///   - weightDecay: The default L2 penalty added to the gradient.
    ///   - amsgrad: Use the running maximum of the second moment.
    ///   - maximize: Ascend instead of descend.
    public convenience init(groups: [ParameterGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false,
                            maximize: Bool = false) {
        self.init(groups: groups, learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: false)
    }

    /// Creates Adam over one group of parameters.
    /// - Parameters:
    ///   - parameters: The parameters to update.
    ///   - learningRate: The learning rate.
    ///   - betas: The decay rates (β1, β2) of the moment estimates.
    ///   - epsilon: The denominator's stabiliser.
    ///   - weightDecay: The L2 penalty added to the gradient.
    ///   - amsgrad: Use the running maximum of the second moment.
    ///   - maximize: Ascend instead of descend.
    public convenience init(parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false,
                            maximize: Bool = false) {
        self.init(groups: [ParameterGroup(parameters: parameters)], learningRate: learningRate, betas: betas,
                  epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: false)
    }

    /// The designated initialiser shared with `AdamW`.
    init(groups: [ParameterGroup], learningRate: Double, betas: (Double, Double), epsilon: Double,
         weightDecay: Double, amsgrad: Bool, maximize: Bool, decoupled: Bool) {
        precondition(betas.0 >= 0 && betas.0 < 1 && betas.1 >= 0 && betas.1 < 1, "invalid betas \(betas)")
        precondition(epsilon >= 0, "invalid epsilon \(epsilon)")
        self.betas = betas
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.maximize = maximize
        decoupledWeightDecay = decoupled
        super.init(groups: groups, learningRate: learningRate, weightDecay: weightDecay)
    }

    /// `exp_avg`, `exp_avg_sq` and, with AMSGrad, `max_exp_avg_sq`, as in PyTorch.
    public override var stateBufferNames: [String] {
        amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    }

    /// Applies the Adam (or AdamW) update to one parameter.
    public override func update(_ update: ParameterUpdate) {
        switch update.dtype {
        case .float32: apply(update, Float.self)
        case .float64: apply(update, Double.self)
        }
    }

    private func apply<T: LaneScalar>(_ u: ParameterUpdate, _ type: T.Type) {
        let p = u.parameterPointer(as: T.self)
        let g = u.gradientPointer(as: T.self)
        let m = u.zeroedBuffer(named: "exp_avg", as: T.self)
        let v = u.zeroedBuffer(named: "exp_avg_sq", as: T.self)
        let vmax = amsgrad ? u.zeroedBuffer(named: "max_exp_avg_sq", as: T.self) : nil
        let n = u.count
        let beta1 = u.momentum ?? betas.0, beta2 = betas.1
        // Bias corrections in Double, as PyTorch computes them with Python floats.
        let t = Double(u.state.step)
        let stepSize = T(u.learningRate / (1 - Double.pow(beta1, t)))
        let correction2Sqrt = T((1 - Double.pow(beta2, t)).squareRoot())
        let b1 = T(beta1), b2 = T(beta2), c1 = T(1 - beta1), c2 = T(1 - beta2), eps = T(epsilon)
        let sign: T = maximize ? -1 : 1
        // One of the two weight decays applies; the other is the identity (×1, +0·p).
        var l2: T = 0, shrink: T = 1
        if u.weightDecay != 0 {
            if decoupledWeightDecay { shrink = T(1 - u.learningRate * u.weightDecay) } else { l2 = T(u.weightDecay) }
        }
        // Chunks small enough that the three passes below run from L1 cache.
        let chunk = 1024
        withUnsafeTemporaryAllocation(of: T.self, capacity: chunk) { scratch in
            guard let root = scratch.baseAddress else { return }
            var start = 0
            while start < n {
                let count = Swift.min(chunk, n - start)
                let p = p + start, g = g + start, m = m + start, v = v + start
                // 1. Moments (and their running maximum): plain loops LLVM vectorises.
                for i in 0..<count {
                    let gi = sign * g[i] + l2 * p[i]
                    let vi = b2 * v[i] + c2 * gi * gi
                    m[i] = b1 * m[i] + c1 * gi
                    v[i] = vi
                }
                var second = UnsafePointer(v)
                if let vmax {
                    let vmax = vmax + start
                    for i in 0..<count {
                        // Written so a NaN second moment propagates, as torch.maximum does.
                        vmax[i] = vmax[i] >= v[i] ? vmax[i] : v[i]
                    }
                    second = UnsafePointer(vmax)
                }
                // 2. Square roots on SIMD lanes (see LaneScalar for why not in the loops).
                squareRoots(second, into: root, count: count)
                // 3. The update, with eps added after the bias correction of √v.
                for i in 0..<count {
                    p[i] = p[i] * shrink - stepSize * (m[i] / (root[i] / correction2Sqrt + eps))
                }
                start += count
            }
        }
    }
}

/// Adam with decoupled weight decay, exactly as `torch.optim.AdamW`: each update first shrinks
/// the parameter, p ← p·(1 − lr·wd), then applies the Adam step without an L2 term.
public final class AdamW: Adam {
    /// Creates AdamW over parameter groups.
    /// - Parameters:
    ///   - groups: The parameter groups; their unset values inherit the defaults below.
    ///   - learningRate: The default learning rate.
    ///   - betas: The decay rates (β1, β2) of the moment estimates.
    ///   - epsilon: The denominator's stabiliser.
    ///   - weightDecay: The default decoupled weight decay.
    ///   - amsgrad: Use the running maximum of the second moment.
    ///   - maximize: Ascend instead of descend.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
        super.init(groups: groups, learningRate: learningRate, betas: betas, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: true)
    }

    /// Creates AdamW over one group of parameters.
    /// - Parameters:
    ///   - parameters: The parameters to update.
    ///   - learningRate: The learning rate.
    ///   - betas: The decay rates (β1, β2) of the moment estimates.
    ///   - epsilon: The denominator's stabiliser.
    ///   - weightDecay: The decoupled weight decay.
    ///   - amsgrad: Use the running maximum of the second moment.
    ///   - maximize: Ascend instead of descend.
    public convenience init(parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false,
                            maximize: Bool = false) {
        self.init(groups: [ParameterGroup(parameters: parameters)], learningRate: learningRate, betas: betas,
                  epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize)
    }
}
