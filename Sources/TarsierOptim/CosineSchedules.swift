#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Cosine annealing from the base rate to `minimumLR` over `totalSteps`, as
/// `torch.optim.lr_scheduler.CosineAnnealingLR`:
/// lr = min + (base − min)·(1 + cos(π·s/T))/2.
///
/// As in PyTorch, the curve is periodic: past `totalSteps` the rate rises again. Pick
/// `totalSteps` to cover the run.
public struct CosineAnnealingLR: LearningRateSchedule {
    /// The half-period T, in steps.
    public let totalSteps: Int
    /// The rate reached at step T (PyTorch's `eta_min`), absolute.
    public let minimumLR: Double

    /// Creates a cosine schedule.
    /// - Parameters:
    ///   - totalSteps: The steps from the base rate to the minimum (at least 1).
    ///   - minimumLR: The final rate.
    public init(totalSteps: Int, minimumLR: Double = 0) {
        precondition(totalSteps >= 1, "CosineAnnealingLR needs totalSteps >= 1, got \(totalSteps)")
        self.totalSteps = totalSteps
        self.minimumLR = minimumLR
    }

    /// The rate at `step` for base rate `base`.
    public func learningRate(at step: Int, base: Double) -> Double {
        minimumLR + (base - minimumLR) * (1 + cos(Double.pi * Double(step) / Double(totalSteps))) / 2
    }
}

/// A linear warm-up from `startFactor`·base to base over `warmupSteps`, then cosine annealing to
/// `minimumLR` at `totalSteps`; afterwards the rate stays at `minimumLR`.
///
/// This is PyTorch's `SequentialLR([LinearLR(start_factor, 1, warmupSteps),
/// CosineAnnealingLR(totalSteps − warmupSteps, minimumLR)], milestones: [warmupSteps])`.
public struct WarmupCosine: LearningRateSchedule {
    /// The steps of linear warm-up.
    public let warmupSteps: Int
    /// The step at which the cosine reaches `minimumLR`.
    public let totalSteps: Int
    /// The multiplier of the base rate at step 0.
    public let startFactor: Double
    /// The final rate, absolute.
    public let minimumLR: Double

    /// Creates a warm-up + cosine schedule.
    /// - Parameters:
    ///   - warmupSteps: The steps of linear warm-up (0 for none).
    ///   - totalSteps: The step at which the rate reaches `minimumLR`; more than `warmupSteps`.
    ///   - startFactor: The multiplier of the base rate at step 0 (PyTorch's LinearLR default is 1/3).
    ///   - minimumLR: The final rate.
    public init(warmupSteps: Int, totalSteps: Int, startFactor: Double = 0.1, minimumLR: Double = 0) {
        precondition(warmupSteps >= 0 && totalSteps > warmupSteps,
                     "WarmupCosine needs 0 <= warmupSteps < totalSteps, got \(warmupSteps) and \(totalSteps)")
        precondition(startFactor > 0 && startFactor <= 1, "WarmupCosine needs startFactor in (0, 1], got \(startFactor)")
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.startFactor = startFactor
        self.minimumLR = minimumLR
    }

    /// The rate at `step` for base rate `base`.
    public func learningRate(at step: Int, base: Double) -> Double {
        if step < warmupSteps {
            return base * (startFactor + (1 - startFactor) * Double(Swift.max(step, 0)) / Double(warmupSteps))
        }
        if step >= totalSteps { return minimumLR }
        let t = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
        return minimumLR + (base - minimumLR) * (1 + cos(Double.pi * t)) / 2
    }
}
