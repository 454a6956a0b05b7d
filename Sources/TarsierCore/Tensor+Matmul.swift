/// Matrix products.
extension Tensor {
    /// The product op(self) · op(other) of two rank-2 tensors.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank == 2 && other.rank == 2, "matmul needs rank-2 tensors, got \(shape) and \(other.shape)")
        let k1 = transposeSelf ? shape[0] : shape[1]
        let k2 = transposeOther ? other.shape[1] : other.shape[0]
        precondition(k1 == k2, "matmul: inner dimensions differ, \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "")")
        let a = contiguous(), b = other.contiguous()
        let y = device.backend.matmul(a, b, transposeA: transposeSelf, transposeB: transposeOther)
        return Autograd.record(y, inputs: [self, other]) { g in
            let gc = g.contiguous()
            let backend = a.device.backend
            var ga: Tensor? = nil, gb: Tensor? = nil
            if a.requiresGrad || self.requiresGrad {
                // d(op(A)) = G · op(B)ᵀ, transposed back when A was used transposed.
                ga = transposeSelf
                    ? backend.matmul(b, gc, transposeA: transposeOther, transposeB: true)
                    : backend.matmul(gc, b, transposeA: false, transposeB: !transposeOther)
            }
            if other.requiresGrad {
                gb = transposeOther
                    ? backend.matmul(gc, a, transposeA: true, transposeB: transposeSelf)
                    : backend.matmul(a, gc, transposeA: !transposeSelf, transposeB: false)
            }
            return [ga, gb]
        }
    }
}
