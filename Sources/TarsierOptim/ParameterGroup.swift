import TarsierCore

/// A named set of parameters that share hyper-parameters, as a PyTorch `param_group`.
///
/// Values left `nil` inherit the optimizer's defaults when the optimizer adopts the group; from
/// then on the group holds resolved values. Learning-rate schedules scale `baseLearningRate` (the
/// rate the group was adopted with) and write the result to `learningRate`, so a group with a
/// smaller base rate (a pretrained backbone, say) keeps its ratio to the others.
public struct ParameterGroup {
    /// A label for logs and error messages (for example `"backbone"` or `"head"`).
    public var name: String
    /// The parameters, in a stable order: optimizer state is keyed by their index.
    public var parameters: [Tensor]
    /// The learning rate used by the next `step()`; `nil` inherits the optimizer's default.
    public var learningRate: Double?
    /// The rate schedules scale; set to the resolved `learningRate` when the group is adopted.
    public var baseLearningRate: Double?
    /// The weight decay; `nil` inherits the optimizer's default.
    public var weightDecay: Double?
    /// The momentum (SGD) or beta1 (Adam); `nil` inherits the optimizer's. One-cycle schedules set it.
    public var momentum: Double?

    /// Creates a group.
    /// - Parameters:
    ///   - name: A label for logs and error messages.
    ///   - parameters: The tensors to update; frozen ones (`requiresGrad == false`) are skipped.
    ///   - learningRate: The group's learning rate, or `nil` for the optimizer's default.
    ///   - weightDecay: The group's weight decay, or `nil` for the optimizer's default.
    public init(name: String = "default", parameters: [Tensor], learningRate: Double? = nil,
                weightDecay: Double? = nil) {
        self.name = name
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// The number of scalar values in the group's parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}
