#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// libm's cos, named apart from `AnnealStrategy.cos`.
@inline(__always) private func cosine(_ x: Double) -> Double { cos(x) }

/// How a one-cycle schedule moves between two values within a phase.
public enum AnnealStrategy: String, Sendable, CaseIterable {
    /// Half a cosine: end + (start − end)/2·(1 + cos(π·pct)).
    case cos
    /// A straight line: start + (end − start)·pct.
    case linear

    /// The value at fraction `pct` of the way from `start` to `end`, computed as PyTorch does.
    public func anneal(from start: Double, to end: Double, fraction pct: Double) -> Double {
        switch self {
        case .cos: return end + (start - end) / 2.0 * (cosine(Double.pi * pct) + 1)
        case .linear: return (end - start) * pct + start
        }
    }
}

/// The 1cycle policy, exactly as `torch.optim.lr_scheduler.OneCycleLR`: the rate rises from
/// maxLR/divFactor to `maxLR` over the first `pctStart` of the steps, then falls to
/// maxLR/(divFactor·finalDivFactor); momentum moves the opposite way between `maxMomentum` and
/// `baseMomentum`.
///
/// The rates are absolute (every group gets the same one); a group's base rate is ignored.
/// Phases end at steps pctStart·total − 1 and total − 1 (with `threePhase`: pctStart·total − 1,
/// 2·pctStart·total − 2 and total − 1), which need not be integers. Steps past the end use the
/// final step's values.
public struct OneCycleLR: LearningRateSchedule {
    /// The peak rate.
    public let maxLR: Double
    /// The length of the cycle in steps.
    public let totalSteps: Int
    /// The fraction of the cycle spent increasing the rate.
    public let pctStart: Double
    /// The shape of each phase.
    public let annealStrategy: AnnealStrategy
    /// The initial rate is maxLR / divFactor.
    public let divFactor: Double
    /// The final rate is the initial rate / finalDivFactor.
    public let finalDivFactor: Double
    /// Whether to return to the initial rate before annealing to the final one (fast.ai style).
    public let threePhase: Bool
    /// Whether `momentum(at:)` cycles momentum.
    public let cycleMomentum: Bool
    /// The momentum at the peak rate.
    public let baseMomentum: Double
    /// The momentum at the initial and final rates.
    public let maxMomentum: Double

    private struct Phase: Sendable {
        var endStep: Double
        var startLR: Double, endLR: Double
        var startMomentum: Double, endMomentum: Double
    }
    private let phases: [Phase]

    /// Creates a one-cycle schedule with PyTorch's defaults.
    /// - Parameters:
    ///   - maxLR: The peak rate.
    ///   - totalSteps: The length of the cycle in steps (at least 2).
    ///   - pctStart: The fraction of the cycle spent increasing the rate.
    ///   - annealStrategy: Cosine or linear phases.
    ///   - divFactor: The initial rate is maxLR / divFactor.
    ///   - finalDivFactor: The final rate is the initial rate / finalDivFactor.
    ///   - threePhase: Anneal back to the initial rate, then to the final one.
    ///   - cycleMomentum: Cycle momentum inversely to the rate.
    ///   - baseMomentum: The momentum at the peak rate.
    ///   - maxMomentum: The momentum at the ends of the cycle.
    public init(maxLR: Double, totalSteps: Int, pctStart: Double = 0.3, annealStrategy: AnnealStrategy = .cos,
                divFactor: Double = 25, finalDivFactor: Double = 1e4, threePhase: Bool = false,
                cycleMomentum: Bool = true, baseMomentum: Double = 0.85, maxMomentum: Double = 0.95) {
        precondition(totalSteps >= 2, "OneCycleLR needs totalSteps >= 2, got \(totalSteps)")
        precondition(pctStart > 0 && pctStart < 1, "OneCycleLR needs pctStart in (0, 1), got \(pctStart)")
        self.maxLR = maxLR
        self.totalSteps = totalSteps
        self.pctStart = pctStart
        self.annealStrategy = annealStrategy
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
        self.threePhase = threePhase
        self.cycleMomentum = cycleMomentum
        self.baseMomentum = baseMomentum
        self.maxMomentum = maxMomentum
        let initial = maxLR / divFactor
        let minimum = initial / finalDivFactor
        let firstEnd = pctStart * Double(totalSteps) - 1
        if threePhase {
            phases = [
                Phase(endStep: firstEnd, startLR: initial, endLR: maxLR,
                      startMomentum: maxMomentum, endMomentum: baseMomentum),
                Phase(endStep: 2 * pctStart * Double(totalSteps) - 2, startLR: maxLR, endLR: initial,
                      startMomentum: baseMomentum, endMomentum: maxMomentum),
                Phase(endStep: Double(totalSteps - 1), startLR: initial, endLR: minimum,
                      startMomentum: maxMomentum, endMomentum: maxMomentum),
            ]
        } else {
            phases = [
                Phase(endStep: firstEnd, startLR: initial, endLR: maxLR,
                      startMomentum: maxMomentum, endMomentum: baseMomentum),
                Phase(endStep: Double(totalSteps - 1), startLR: maxLR, endLR: minimum,
                      startMomentum: baseMomentum, endMomentum: maxMomentum),
            ]
        }
    }

    /// The phase containing `step` and the fraction of it done, as PyTorch's `get_lr` finds them.
    private func locate(_ step: Int) -> (Phase, Double) {
        let s = Double(Swift.min(Swift.max(step, 0), totalSteps - 1))
        var start = 0.0
        for (i, phase) in phases.enumerated() {
            if s <= phase.endStep || i == phases.count - 1 {
                return (phase, (s - start) / (phase.endStep - start))
            }
            start = phase.endStep
        }
        preconditionFailure("unreachable: the last phase always matches")
    }

    /// The absolute rate at `step`; `base` is ignored.
    public func learningRate(at step: Int, base: Double) -> Double {
        let (phase, pct) = locate(step)
        return annealStrategy.anneal(from: phase.startLR, to: phase.endLR, fraction: pct)
    }

    /// The rate at `step`.
    public func learningRate(at step: Int) -> Double { learningRate(at: step, base: maxLR) }

    /// The momentum at `step` when `cycleMomentum` is on.
    public func momentum(at step: Int) -> Double? {
        guard cycleMomentum else { return nil }
        let (phase, pct) = locate(step)
        return annealStrategy.anneal(from: phase.startMomentum, to: phase.endMomentum, fraction: pct)
    }
}

/// The Fashion-MNIST anchor's one-cycle: a linear warm-up to the base rate, then a linear (or
/// cosine) decay to 0 at `totalSteps`, as `LambdaLR` with
/// f(s) = (s+1)/warm for s < warm, else max(0, (total−s)/(total−warm)),
/// where warm = max(1, ⌊warmupFraction·total⌋).
public struct LinearOneCycle: MultiplicativeSchedule {
    /// The fraction of the steps spent warming up.
    public let warmupFraction: Double
    /// The step at which the rate reaches 0.
    public let totalSteps: Int
    /// The shape of the decay: `.linear` (the anchor's "onecycle") or `.cos` (its "cosine").
    public let decay: AnnealStrategy

    /// Creates the schedule.
    /// - Parameters:
    ///   - warmupFraction: The fraction of the steps spent warming up.
    ///   - totalSteps: The step at which the rate reaches 0.
    ///   - decay: The shape of the decay after the warm-up.
    public init(warmupFraction: Double, totalSteps: Int, decay: AnnealStrategy = .linear) {
        precondition(warmupFraction >= 0 && warmupFraction < 1,
                     "LinearOneCycle needs warmupFraction in [0, 1), got \(warmupFraction)")
        precondition(totalSteps >= 1, "LinearOneCycle needs totalSteps >= 1, got \(totalSteps)")
        self.warmupFraction = warmupFraction
        self.totalSteps = totalSteps
        self.decay = decay
    }

    /// The number of warm-up steps, max(1, ⌊warmupFraction·total⌋).
    public var warmupSteps: Int { Swift.max(1, Int(warmupFraction * Double(totalSteps))) }

    /// The multiplier of the base rate at `step`.
    public func factor(at step: Int) -> Double {
        let warm = warmupSteps
        if step < warm { return Double(step + 1) / Double(warm) }
        // Guarded so warm == total cannot divide by zero (the rate is then 0 from the end on).
        let span = Double(Swift.max(1, totalSteps - warm))
        switch decay {
        case .linear: return Swift.max(0, Double(totalSteps - step) / span)
        case .cos:
            if step >= totalSteps { return 0 }
            return 0.5 * (1 + cos(Double.pi * Double(step - warm) / span))
        }
    }
}
