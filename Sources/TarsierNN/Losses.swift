import TarsierCore

/// How a per-sample loss is reduced.
public enum LossReduction: String, Sendable {
    case mean, sum, none
}

/// Error for labels or targets that do not fit the logits.
public struct LossInputError: Error, CustomStringConvertible {
    public let description: String
}

/// Loss functions with PyTorch's definitions.
public enum Loss {
    /// One-hot [N, C] matrix of `labels` in the dtype and device of `like`.
    static func oneHot(_ labels: [Int], classCount: Int, like: Tensor) throws -> Tensor {
        var data = [Double](repeating: 0, count: labels.count * classCount)
        for (i, label) in labels.enumerated() {
            guard label >= 0 && label < classCount else {
                throw LossInputError(description: "label \(label) at index \(i) is outside 0..<\(classCount)")
            }
            data[i * classCount + label] = 1
        }
        return Tensor(shape: [labels.count, classCount], data: data).cast(to: like.dtype).to(like.device)
    }

    /// Negative log-likelihood of `logProbabilities` [N, C] at `labels`, optionally class-weighted.
    /// With weights, the mean divides by the summed weights of the labels, as PyTorch.
    public static func nll(_ logProbabilities: Tensor, labels: [Int], weight: Tensor? = nil,
                           reduction: LossReduction = .mean) throws -> Tensor {
        let (n, c) = try checkedShape(logProbabilities, labels)
        let picked = try oneHot(labels, classCount: c, like: logProbabilities)
        var perClass = picked
        if let weight { perClass = picked * weight.reshaped([1, c]) }
        let losses = -(logProbabilities * perClass).sum(axes: [1])
        switch reduction {
        case .none: return losses
        case .sum: return losses.sum()
        case .mean:
            let denominator = weight == nil ? Double(n) : Autograd.withNoGrad { perClass.sum().item() }
            return losses.sum() / denominator
        }
    }

    /// Cross-entropy of `logits` [N, C] against `labels`, with optional class weights and label smoothing.
    public static func crossEntropy(_ logits: Tensor, labels: [Int], weight: Tensor? = nil, labelSmoothing: Double = 0,
                                    reduction: LossReduction = .mean) throws -> Tensor {
        let (n, c) = try checkedShape(logits, labels)
        let logp = logits.logSoftmax(axis: 1)
        let hard = try nll(logp, labels: labels, weight: weight, reduction: reduction)
        guard labelSmoothing > 0 else { return hard }
        // Smoothing term: -Σ_c w_c log p_c per sample, reduced like the hard term.
        let weighted = weight.map { logp * $0.reshaped([1, c]) } ?? logp
        let smooth = -weighted.sum(axes: [1])
        let smoothReduced: Tensor
        switch reduction {
        case .none: smoothReduced = smooth
        case .sum: smoothReduced = smooth.sum()
        case .mean:
            let denominator: Double
            if let weight {
                let w = weight.toDoubleArray()
                denominator = labels.reduce(0) { $0 + w[$1] }
            } else {
                denominator = Double(n)
            }
            smoothReduced = smooth.sum() / denominator
        }
        return hard * (1 - labelSmoothing) + smoothReduced * (labelSmoothing / Double(c))
    }

    /// Binary cross-entropy on logits (stable form), with an optional positive-class weight per column.
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor, positiveWeight: Tensor? = nil,
                                                    reduction: LossReduction = .mean) throws -> Tensor {
        guard logits.shape == targets.shape else {
            throw LossInputError(description: "BCE-with-logits: logits \(logits.shape) and targets \(targets.shape) differ")
        }
        // loss = (1 - t)·x + (1 + (pw - 1)·t)·softplus(-x); softplus(-x) = log(1 + e^-x).
        let softplusNeg = (-logits).relu() + ((-logits.abs()).exp() + 1).log()
        let weightTerm = positiveWeight.map { (($0 - 1) * targets) + 1 } ?? Tensor(repeating: 1, shape: [1], dtype: logits.dtype, device: logits.device)
        let losses = (1 - targets) * logits + weightTerm * softplusNeg
        return reduce(losses, reduction)
    }

    /// Mean squared error.
    public static func mse(_ predictions: Tensor, targets: Tensor, reduction: LossReduction = .mean) throws -> Tensor {
        guard predictions.shape == targets.shape else {
            throw LossInputError(description: "MSE: predictions \(predictions.shape) and targets \(targets.shape) differ")
        }
        return reduce((predictions - targets).squared(), reduction)
    }

    static func reduce(_ losses: Tensor, _ reduction: LossReduction) -> Tensor {
        switch reduction {
        case .none: return losses
        case .sum: return losses.sum()
        case .mean: return losses.mean()
        }
    }

    static func checkedShape(_ scores: Tensor, _ labels: [Int]) throws -> (Int, Int) {
        guard scores.rank == 2, scores.shape[0] == labels.count else {
            throw LossInputError(description: "expected scores [N, C] with N = \(labels.count) labels, got \(scores.shape)")
        }
        return (scores.shape[0], scores.shape[1])
    }
}
