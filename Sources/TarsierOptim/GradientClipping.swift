import TarsierCore

/// The total gradient norm is NaN or infinite, raised by
/// `clipGradientNorm(_:maxNorm:errorIfNonfinite:)`.
public struct NonfiniteGradientNormError: Error, CustomStringConvertible, Equatable {
    /// The index (in the array passed in) of the first parameter whose gradient norm is not finite.
    public let parameterIndex: Int
    /// That parameter's gradient norm.
    public let parameterNorm: Double
    /// The total norm over all parameters.
    public let totalNorm: Double

    /// Creates an error.
    public init(parameterIndex: Int, parameterNorm: Double, totalNorm: Double) {
        self.parameterIndex = parameterIndex
        self.parameterNorm = parameterNorm
        self.totalNorm = totalNorm
    }

    /// A message naming the parameter and what to try.
    public var description: String {
        "the total gradient norm is \(totalNorm): parameter \(parameterIndex) has gradient norm \(parameterNorm). "
            + "Lower the learning rate, check the loss for NaN or infinity, or train in a wider precision."
    }
}

/// Scales the gradients of `parameters` so that their total L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_`: each gradient is multiplied by
/// min(1, maxNorm / (total + 1e-6)). Parameters without a gradient are ignored.
///
/// A non-finite norm makes every gradient NaN, as in PyTorch; use
/// `clipGradientNorm(_:maxNorm:errorIfNonfinite:)` to stop instead.
/// - Parameters:
///   - parameters: The parameters whose `grad` to clip.
///   - maxNorm: The largest total norm allowed.
/// - Returns: The total norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double) -> Double {
    let norms = gradientSquaredNorms(parameters)
    let total = norms.reduce(0) { $0 + ($1 ?? 0) }.squareRoot()
    scaleGradients(parameters, total: total, maxNorm: maxNorm)
    return total
}

/// Scales the gradients of `parameters` so that their total L2 norm is at most `maxNorm`,
/// optionally refusing a non-finite norm (PyTorch's `error_if_nonfinite`).
/// - Parameters:
///   - parameters: The parameters whose `grad` to clip.
///   - maxNorm: The largest total norm allowed.
///   - errorIfNonfinite: Throw, leaving the gradients untouched, when the total norm is NaN or infinite.
/// - Returns: The total norm before clipping.
/// - Throws: `NonfiniteGradientNormError` naming the first parameter with a non-finite norm.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double, errorIfNonfinite: Bool) throws -> Double {
    let norms = gradientSquaredNorms(parameters)
    let total = norms.reduce(0) { $0 + ($1 ?? 0) }.squareRoot()
    if errorIfNonfinite && !total.isFinite {
        let index = norms.firstIndex { ($0 ?? 0).isFinite == false } ?? 0
        throw NonfiniteGradientNormError(parameterIndex: index, parameterNorm: (norms[index] ?? 0).squareRoot(),
                                         totalNorm: total)
    }
    scaleGradients(parameters, total: total, maxNorm: maxNorm)
    return total
}

/// The squared L2 norm of each parameter's gradient, accumulated in Double; nil without one.
func gradientSquaredNorms(_ parameters: [Tensor]) -> [Double?] {
    Autograd.withNoGrad {
        parameters.map { p -> Double? in
            guard let raw = p.grad else { return nil }
            let g = raw.contiguous()
            switch g.dtype {
            case .float32: return sumOfSquares(g.storage.floats + g.offset, count: g.count)
            case .float64: return sumOfSquares(g.storage.doubles + g.offset, count: g.count)
            }
        }
    }
}

/// Σ x² in Double with four independent accumulators, so the loop pipelines.
func sumOfSquares<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, count n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    while i + 4 <= n {
        let a = Double(x[i]), b = Double(x[i + 1]), c = Double(x[i + 2]), d = Double(x[i + 3])
        s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
        i += 4
    }
    while i < n { let a = Double(x[i]); s0 += a * a; i += 1 }
    return (s0 + s1) + (s2 + s3)
}

/// Replaces each gradient by a scaled copy: gradients may share storage (the backward pass of
/// an addition hands one tensor to both inputs), so scaling in place could scale one twice.
private func scaleGradients(_ parameters: [Tensor], total: Double, maxNorm: Double) {
    precondition(maxNorm >= 0, "maxNorm must be non-negative, got \(maxNorm)")
    let coefficient = maxNorm / (total + 1e-6)
    // PyTorch multiplies by the clamped coefficient unconditionally; multiplying by 1 is a no-op.
    guard !(coefficient >= 1) else { return }
    Autograd.withNoGrad {
        for p in parameters {
            guard let node = p.gradNode, let g = node.grad else { continue }
            let scaled = g * coefficient
            node.zeroGrad()
            node.accumulate(scaled)
        }
    }
}
