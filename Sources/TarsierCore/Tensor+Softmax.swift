/// Softmax and log-softmax.
extension Tensor {
    /// Softmax over `axis` (the last by default).
    public func softmax(axis a: Int = -1) -> Tensor { softmaxLike(axis: a, log: false) }

    /// Log-softmax over `axis` (the last by default).
    public func logSoftmax(axis a: Int = -1) -> Tensor { softmaxLike(axis: a, log: true) }

    private func softmaxLike(axis a: Int, log: Bool) -> Tensor {
        let ax = axis(a)
        if ax != rank - 1 {
            return transposed(ax, -1).softmaxLike(axis: -1, log: log).transposed(ax, -1)
        }
        let x = contiguous()
        let y = device.backend.softmax(x, log: log)
        return Autograd.record(y, inputs: [self]) { g in
            [y.device.backend.softmaxBackward(output: y, gradient: g.contiguous(), log: log)]
        }
    }
}
