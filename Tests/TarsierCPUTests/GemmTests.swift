import XCTest
import TarsierCPU

final class GemmTests: XCTestCase {
    func testAllTransposeCombinations() {
        var random = TestRandom(seed: 42)
        let (m, n, k) = (5, 7, 17)
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                // Stored shapes, with padded leading dimensions.
                let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
                let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
                let lda = aColumns + 3, ldb = bColumns + 2, ldc = n + 1
                let a = random.floats(aRows * lda), b = random.floats(bRows * ldb)
                var c = random.floats(m * ldc)
                let (alpha, beta): (Float, Float) = (1.5, 0.5)
                var expected = [Double]()
                for i in 0..<m {
                    for j in 0..<ldc {
                        guard j < n else { expected.append(Double(c[i * ldc + j])); continue }
                        var sum = 0.0
                        for p in 0..<k {
                            let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                            let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                            sum += Double(av) * Double(bv)
                        }
                        expected.append(Double(alpha) * sum + Double(beta) * Double(c[i * ldc + j]))
                    }
                }
                DNNL.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                           alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc)
                assertClose(c, expected, "sgemm transposeA \(transposeA) transposeB \(transposeB)")
            }
        }
    }
}
