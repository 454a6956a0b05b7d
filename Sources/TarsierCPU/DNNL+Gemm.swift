import CDNNL

extension DNNL {
    /// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`.
    /// - Parameters:
    ///   - transposeA: Use `A` transposed; `A` is then stored `k x m`, else `m x k`.
    ///   - transposeB: Use `B` transposed; `B` is then stored `n x k`, else `k x n`.
    ///   - m: Rows of `op(A)` and `C`.
    ///   - n: Columns of `op(B)` and `C`.
    ///   - k: Columns of `op(A)`, rows of `op(B)`.
    ///   - alpha: Scale of the product.
    ///   - a: Matrix `A`, row-major with leading dimension `lda`.
    ///   - lda: Distance between rows of the stored `A`.
    ///   - b: Matrix `B`, row-major with leading dimension `ldb`.
    ///   - ldb: Distance between rows of the stored `B`.
    ///   - beta: Scale of the previous `C`; with 0 `C` need not be initialised.
    ///   - c: Matrix `C` (`m x n`), row-major with leading dimension `ldc`.
    ///   - ldc: Distance between rows of `C`.
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        OpenMP.apply()
        let transA = CChar(UInt8(ascii: transposeA ? "T" : "N"))
        let transB = CChar(UInt8(ascii: transposeB ? "T" : "N"))
        dnnlCheck(dnnl_sgemm(transA, transB, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
                             b, Int64(ldb), beta, c, Int64(ldc)),
                  "sgemm (m \(m), n \(n), k \(k), lda \(lda), ldb \(ldb), ldc \(ldc))")
    }
}
