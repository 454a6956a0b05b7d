/// Maps a schedule name to the learning-rate factor of each global step.
public enum ScheduleFactory {
    /// The schedule names the CLI accepts.
    public static let names = ["onecycle", "cosine", "warmup-cosine", "step", "multistep", "constant"]

    /// A function from step to the factor applied to each group's base learning rate.
    public static func make(name: String, totalSteps: Int, warmupFraction: Double) throws -> (Int) -> Double {
        let warm = max(1, Int(warmupFraction * Double(totalSteps)))
        switch name {
        case "constant": return { _ in 1 }
        case "onecycle":
            // Linear up to the peak, linear down to zero (the PyTorch anchor's recipe).
            return { s in s < warm ? Double(s + 1) / Double(warm) : max(0, Double(totalSteps - s) / Double(totalSteps - warm)) }
        default:
            throw TrainingError.invalidOption("unknown schedule '\(name)'; valid schedules: \(names.joined(separator: ", "))")
        }
    }
}
