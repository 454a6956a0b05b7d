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

    /// Splits parameters into a `"decay"` group (rank ≥ 2: convolution and linear weights) with
    /// `weightDecay` and a `"no_decay"` group (rank ≤ 1: biases, BatchNorm scales and shifts)
    /// with none — the usual recipe, and the Fashion-MNIST anchor's. Empty groups are left out.
    /// - Parameters:
    ///   - parameters: The parameters, for example a module's trainable ones.
    ///   - weightDecay: The decay of the weights.
    ///   - learningRate: Both groups' learning rate, or `nil` for the optimizer's default.
    public static func splittingWeightDecay(_ parameters: [Tensor], weightDecay: Double,
                                            learningRate: Double? = nil) -> [ParameterGroup] {
        let decay = parameters.filter { $0.rank >= 2 }, rest = parameters.filter { $0.rank < 2 }
        var groups: [ParameterGroup] = []
        if !decay.isEmpty {
            groups.append(ParameterGroup(name: "decay", parameters: decay, learningRate: learningRate,
                                         weightDecay: weightDecay))
        }
        if !rest.isEmpty {
            groups.append(ParameterGroup(name: "no_decay", parameters: rest, learningRate: learningRate, weightDecay: 0))
        }
        return groups
    }

    /// The number of scalar values in the group's parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}
