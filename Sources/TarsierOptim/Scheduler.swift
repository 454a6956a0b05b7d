/// Binds a schedule to an optimizer: `apply(step:)` sets every group's learning rate (and
/// momentum, for one-cycle schedules) for the update about to run.
///
/// Being a function of the step alone, it needs no state of its own in a checkpoint: after a
/// resume, `apply(step: optimizer.stepCount)` restores the rates.
///
/// ```swift
/// let scheduler = Scheduler(schedule: CosineAnnealingLR(totalSteps: total), optimizer: sgd)
/// for step in 0..<total {
///     scheduler.apply(step: step)
///     // forward, backward
///     sgd.step()
/// }
/// ```
public final class Scheduler {
    /// The schedule.
    public let schedule: any LearningRateSchedule
    /// The optimizer whose groups are updated.
    public let optimizer: any Optimizer

    /// Creates a scheduler; it changes nothing until `apply(step:)`.
    /// - Parameters:
    ///   - schedule: The schedule.
    ///   - optimizer: The optimizer whose groups it sets.
    public init(schedule: any LearningRateSchedule, optimizer: any Optimizer) {
        self.schedule = schedule
        self.optimizer = optimizer
    }

    /// Sets each group's `learningRate` to the schedule's rate for its `baseLearningRate` at
    /// `step`, and its `momentum` when the schedule cycles momentum.
    public func apply(step: Int) {
        let momentum = schedule.momentum(at: step)
        for g in optimizer.groups.indices {
            let base = baseLearningRate(group: g)
            optimizer.groups[g].learningRate = schedule.learningRate(at: step, base: base)
            if let momentum { optimizer.groups[g].momentum = momentum }
        }
    }

    /// The rate each group would get at `step`, without changing anything.
    public func learningRates(at step: Int) -> [Double] {
        optimizer.groups.indices.map { schedule.learningRate(at: step, base: baseLearningRate(group: $0)) }
    }

    /// A group's base rate; a group adopted by an optimizer that did not record one gets its
    /// current rate as the base, once.
    private func baseLearningRate(group g: Int) -> Double {
        if let base = optimizer.groups[g].baseLearningRate { return base }
        guard let current = optimizer.groups[g].learningRate else {
            preconditionFailure("group \(g) ('\(optimizer.groups[g].name)') has no learning rate to schedule")
        }
        optimizer.groups[g].baseLearningRate = current
        return current
    }
}
