import XCTest
import TarsierCPU

final class BatchNormTests: XCTestCase {
    private struct Case { var n, c, s: Int }
    private let cases = [Case(n: 3, c: 5, s: 42), Case(n: 1, c: 17, s: 9), Case(n: 4, c: 5, s: 1)]
    private let epsilon: Float = 1e-5

    private func statistics(_ k: Case, _ x: [Float]) -> (mean: [Double], variance: [Double]) {
        var mean = [Double](repeating: 0, count: k.c), variance = mean
        let count = Double(k.n * k.s)
        for c in 0..<k.c {
            var sum = 0.0
            for n in 0..<k.n { for i in 0..<k.s { sum += Double(x[(n * k.c + c) * k.s + i]) } }
            mean[c] = sum / count
            var squares = 0.0
            for n in 0..<k.n {
                for i in 0..<k.s { squares += pow(Double(x[(n * k.c + c) * k.s + i]) - mean[c], 2) }
            }
            variance[c] = squares / count
        }
        return (mean, variance)
    }

    private func normalize(_ k: Case, _ x: [Float], _ gamma: [Float], _ beta: [Float],
                           _ mean: [Double], _ variance: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        for n in 0..<k.n {
            for c in 0..<k.c {
                let invStd = 1 / (variance[c] + Double(epsilon)).squareRoot()
                for i in 0..<k.s {
                    let j = (n * k.c + c) * k.s + i
                    y[j] = Double(gamma[c]) * (Double(x[j]) - mean[c]) * invStd + Double(beta[c])
                }
            }
        }
        return y
    }

    func testTrainingForward() {
        var random = TestRandom(seed: 1)
        for k in cases {
            // An offset so the mean matters.
            let x = random.floats(k.n * k.c * k.s).map { 2 * $0 + 0.5 }
            let gamma = random.floats(k.c), beta = random.floats(k.c)
            var y = [Float](repeating: .nan, count: x.count)
            var mean = [Float](repeating: .nan, count: k.c), variance = mean
            DNNL.batchNormForwardTraining(batch: k.n, channels: k.c, spatial: k.s, epsilon: epsilon,
                                          source: x, scale: gamma, shift: beta, destination: &y,
                                          mean: &mean, variance: &variance)
            let expected = statistics(k, x)
            assertClose(mean, expected.mean, "mean \(k)")
            assertClose(variance, expected.variance, "variance \(k)")
            assertClose(y, normalize(k, x, gamma, beta, expected.mean, expected.variance), "y \(k)")
        }
    }

    func testInferenceForward() {
        var random = TestRandom(seed: 2)
        for k in cases {
            let x = random.floats(k.n * k.c * k.s)
            let gamma = random.floats(k.c), beta = random.floats(k.c)
            let mean = random.floats(k.c), variance = random.floats(k.c).map { $0 + 1.5 }
            var y = [Float](repeating: .nan, count: x.count)
            DNNL.batchNormForwardInference(batch: k.n, channels: k.c, spatial: k.s, epsilon: epsilon,
                                           source: x, scale: gamma, shift: beta, mean: mean,
                                           variance: variance, destination: &y)
            assertClose(y, normalize(k, x, gamma, beta, mean.map(Double.init),
                                     variance.map(Double.init)), "inference \(k)")
        }
    }

    /// dx = gamma / sigma * (dy - mean(dy) - xhat * mean(dy * xhat)),
    /// dgamma = sum(dy * xhat), dbeta = sum(dy).
    func testBackward() {
        var random = TestRandom(seed: 3)
        for k in cases where k.n * k.s > 1 {
            let x = random.floats(k.n * k.c * k.s)
            let dy = random.floats(x.count)
            let gamma = random.floats(k.c)
            let stats = statistics(k, x)
            let mean = stats.mean.map { Float($0) }, variance = stats.variance.map { Float($0) }
            var dx = [Float](repeating: .nan, count: x.count)
            var dgamma = [Float](repeating: .nan, count: k.c), dbeta = dgamma
            DNNL.batchNormBackward(batch: k.n, channels: k.c, spatial: k.s, epsilon: epsilon,
                                   source: x, destinationGradient: dy, scale: gamma, mean: mean,
                                   variance: variance, sourceGradient: &dx, scaleGradient: &dgamma,
                                   shiftGradient: &dbeta)
            var expectedDx = [Double](repeating: 0, count: x.count)
            var expectedGamma = [Double](repeating: 0, count: k.c), expectedBeta = expectedGamma
            let count = Double(k.n * k.s)
            for c in 0..<k.c {
                let invStd = 1 / (Double(variance[c]) + Double(epsilon)).squareRoot()
                var indices = [Int]()
                for n in 0..<k.n { for i in 0..<k.s { indices.append((n * k.c + c) * k.s + i) } }
                let xhat = indices.map { (Double(x[$0]) - Double(mean[c])) * invStd }
                for (j, i) in indices.enumerated() {
                    expectedBeta[c] += Double(dy[i])
                    expectedGamma[c] += Double(dy[i]) * xhat[j]
                }
                for (j, i) in indices.enumerated() {
                    expectedDx[i] = Double(gamma[c]) * invStd
                        * (Double(dy[i]) - expectedBeta[c] / count - xhat[j] * expectedGamma[c] / count)
                }
            }
            assertClose(dx, expectedDx, "dx \(k)")
            assertClose(dgamma, expectedGamma, "dgamma \(k)")
            assertClose(dbeta, expectedBeta, "dbeta \(k)")
        }
    }
}
