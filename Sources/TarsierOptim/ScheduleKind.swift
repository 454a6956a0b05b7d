/// The schedules the command line offers, by name.
public enum ScheduleKind: String, CaseIterable, Sendable {
    /// `ConstantLR`.
    case constant
    /// `StepLR`: ×0.1 every third of the run.
    case step
    /// `MultiStepLR`: ×0.1 at 50% and 75% of the run.
    case multistep
    /// `CosineAnnealingLR` to 0 over the run.
    case cosine
    /// `OneCycleLR` peaking at the given maximum rate (PyTorch's 1cycle).
    case onecycle
    /// `WarmupCosine`: linear warm-up from 0.1× then cosine to 0.
    case warmupCosine = "warmup-cosine"
    /// `LinearOneCycle`: the Fashion-MNIST anchor's linear warm-up and linear decay to 0.
    case linearOneCycle = "linear-onecycle"

    /// The accepted names, in declaration order.
    public static var validNames: [String] { allCases.map(\.rawValue) }

    /// Parses a name, ignoring case, spaces and `_` for `-`.
    /// - Throws: `ScheduleConfigurationError` listing the valid names.
    public init(parsing text: String) throws {
        let key = String(text.filter { !$0.isWhitespace }.lowercased().map { $0 == "_" ? "-" : $0 })
        guard let kind = ScheduleKind(rawValue: key) else {
            throw ScheduleConfigurationError(
                "unknown schedule '\(text)'; valid schedules are: \(ScheduleKind.validNames.joined(separator: ", "))")
        }
        self = kind
    }

    /// Builds the schedule for a run of `totalSteps` optimizer steps.
    /// - Parameters:
    ///   - totalSteps: The number of optimizer steps in the run (at least 2).
    ///   - warmupFraction: The share of the steps spent warming up (`warmup-cosine`,
    ///     `linear-onecycle`) or rising (`onecycle`'s `pctStart`, which must be above 0).
    ///   - maxLearningRate: `onecycle`'s peak rate; the other schedules scale each group's base rate.
    /// - Throws: `ScheduleConfigurationError` when the values do not fit the schedule.
    public func makeSchedule(totalSteps: Int, warmupFraction: Double = 0.2,
                             maxLearningRate: Double) throws -> any LearningRateSchedule {
        guard totalSteps >= 2 else {
            throw ScheduleConfigurationError("schedule '\(rawValue)' needs at least 2 steps, got \(totalSteps)")
        }
        guard warmupFraction >= 0 && warmupFraction < 1 else {
            throw ScheduleConfigurationError("warm-up fraction must be in [0, 1), got \(warmupFraction)")
        }
        switch self {
        case .constant:
            return ConstantLR()
        case .step:
            return StepLR(stepSize: Swift.max(1, totalSteps / 3), gamma: 0.1)
        case .multistep:
            return MultiStepLR(milestones: [totalSteps / 2, totalSteps * 3 / 4], gamma: 0.1)
        case .cosine:
            return CosineAnnealingLR(totalSteps: totalSteps)
        case .onecycle:
            guard warmupFraction > 0 else {
                throw ScheduleConfigurationError("schedule 'onecycle' needs a warm-up fraction above 0")
            }
            return OneCycleLR(maxLR: maxLearningRate, totalSteps: totalSteps, pctStart: warmupFraction)
        case .warmupCosine:
            return WarmupCosine(warmupSteps: Int(warmupFraction * Double(totalSteps)), totalSteps: totalSteps)
        case .linearOneCycle:
            return LinearOneCycle(warmupFraction: warmupFraction, totalSteps: totalSteps)
        }
    }
}

/// A schedule name or setting that cannot be used.
public struct ScheduleConfigurationError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, with the accepted values.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
