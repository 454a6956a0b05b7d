/// Reductions over axes, each with its gradient.
extension Tensor {
    func normalizedAxes(_ axes: [Int]?) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return Array(Set(axes.map { axis($0) })).sorted()
    }

    func droppingAxes(_ shape: [Int], _ axes: [Int]) -> [Int] {
        shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Sum over `axes` (all when nil).
    public func sum(axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes)
        let x = contiguous()
        let kept = device.backend.reduce(.sum, x, axes: ax)
        let y = keepingDimensions ? kept : kept.reshaped(droppingAxes(kept.shape, ax))
        let inputShape = shape
        return Autograd.record(y, inputs: [self]) { g in
            [g.reshaped(kept.shape).expanded(to: inputShape)]
        }
    }

    /// Sum along one axis.
    public func sum(axis: Int, keepingDimensions: Bool = false) -> Tensor {
        sum(axes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes)
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: ax, keepingDimensions: keepingDimensions) * (1 / Double(Swift.max(n, 1)))
    }

    /// Mean along one axis.
    public func mean(axis: Int, keepingDimensions: Bool = false) -> Tensor {
        mean(axes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Maximum over `axes` (all when nil); the gradient is shared equally among tied maxima.
    public func max(axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        extremum(.max, axes: axes, keepingDimensions: keepingDimensions)
    }

    /// Minimum over `axes` (all when nil).
    public func min(axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        extremum(.min, axes: axes, keepingDimensions: keepingDimensions)
    }

    private func extremum(_ op: ReduceOp, axes: [Int]?, keepingDimensions: Bool) -> Tensor {
        let ax = normalizedAxes(axes)
        let x = contiguous()
        let kept = device.backend.reduce(op, x, axes: ax)
        let y = keepingDimensions ? kept : kept.reshaped(droppingAxes(kept.shape, ax))
        return Autograd.record(y, inputs: [self]) { g in
            let mask = x.rawBinary(.equalMask, kept)
            let ties = device.backend.reduce(.sum, mask, axes: ax)
            return [mask.rawBinary(.multiply, g.reshaped(kept.shape).rawBinary(.divide, ties))]
        }
    }

    /// log(sum(exp(x))) over `axes`, computed stably.
    public func logSumExp(axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes)
        let m = Autograd.withNoGrad { max(axes: ax, keepingDimensions: true) }.detached()
        let s = (self - m).exp().sum(axes: ax, keepingDimensions: true).log() + m
        return keepingDimensions ? s : s.reshaped(droppingAxes(s.shape, ax))
    }

    /// Index of the maximum along `axis` for every position of the other axes, row-major.
    public func argmax(axis: Int = -1) -> [Int] {
        device.backend.argmax(contiguous(), axis: self.axis(axis))
    }

    /// Broadcasts to `target` by copying (size-1 axes repeat); the gradient sums back.
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let zeros = Tensor(zeros: [1], dtype: dtype, device: device)
        let y = device.backend.binary(.add, contiguous(), zeros, outputShape: target)
        let source = shape
        return Autograd.record(y, inputs: [self]) { g in [g.sum(toShape: source)] }
    }
}
