import TarsierCore

/// A learning-rate schedule: a pure function of the step, so resuming a run needs only the step.
///
/// Step s is the index of the optimizer update about to run (0 for the first), and the value
/// returned is the rate that update uses — PyTorch's `param_groups[0]["lr"]` read before the s-th
/// `scheduler.step()`.
public protocol LearningRateSchedule: Sendable {
    /// The learning rate at `step` for a group whose base rate is `base`.
    func learningRate(at step: Int, base: Double) -> Double
    /// The momentum (SGD) or beta1 (Adam) at `step`, or nil when the schedule leaves it alone.
    func momentum(at step: Int) -> Double?
}

extension LearningRateSchedule {
    /// Schedules leave momentum alone unless they say otherwise.
    public func momentum(at step: Int) -> Double? { nil }
}

/// A schedule that multiplies each group's base rate by a factor of the step.
public protocol MultiplicativeSchedule: LearningRateSchedule {
    /// The multiplier of the base rate at `step`.
    func factor(at step: Int) -> Double
}

extension MultiplicativeSchedule {
    /// `base * factor(at: step)`.
    public func learningRate(at step: Int, base: Double) -> Double { base * factor(at: step) }
}

/// The base rate at every step.
public struct ConstantLR: MultiplicativeSchedule {
    /// Creates a constant schedule.
    public init() {}

    /// Always 1.
    public func factor(at step: Int) -> Double { 1 }
}

/// Multiplies the rate by `gamma` every `stepSize` steps, as `torch.optim.lr_scheduler.StepLR`.
public struct StepLR: MultiplicativeSchedule {
    /// The number of steps between decays.
    public let stepSize: Int
    /// The decay factor.
    public let gamma: Double

    /// Creates a step schedule.
    /// - Parameters:
    ///   - stepSize: The number of steps between decays (at least 1).
    ///   - gamma: The decay factor.
    public init(stepSize: Int, gamma: Double = 0.1) {
        precondition(stepSize >= 1, "StepLR needs stepSize >= 1, got \(stepSize)")
        self.stepSize = stepSize
        self.gamma = gamma
    }

    /// gamma^⌊step / stepSize⌋.
    public func factor(at step: Int) -> Double {
        Double.pow(gamma, Double(Swift.max(step, 0) / stepSize))
    }
}

/// Multiplies the rate by `gamma` at each milestone, as `torch.optim.lr_scheduler.MultiStepLR`.
public struct MultiStepLR: MultiplicativeSchedule {
    /// The steps at which the rate decays, ascending (a repeated milestone decays twice, as in PyTorch).
    public let milestones: [Int]
    /// The decay factor.
    public let gamma: Double

    /// Creates a multi-step schedule.
    /// - Parameters:
    ///   - milestones: The steps at which the rate decays.
    ///   - gamma: The decay factor.
    public init(milestones: [Int], gamma: Double = 0.1) {
        self.milestones = milestones.sorted()
        self.gamma = gamma
    }

    /// gamma^(number of milestones ≤ step).
    public func factor(at step: Int) -> Double {
        Double.pow(gamma, Double(milestones.reduce(0) { $0 + ($1 <= step ? 1 : 0) }))
    }
}
