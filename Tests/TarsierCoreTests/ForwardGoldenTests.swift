import Foundation
import XCTest
@testable import TarsierCore

/// Forward values worked out by hand from PyTorch's definitions (window rules, divisors, output
/// sizes), on both devices. The gradient checks and the parity suite only test consistency; these
/// pin down what the ops compute.
final class ForwardGoldenTests: XCTestCase {
    private let devices: [Device] = [.reference, .cpu]

    /// `values` as a Float32 tensor on `device`.
    private func t(_ shape: [Int], _ values: [Double], _ device: Device) -> Tensor {
        Tensor(shape: shape, data: values.map { Float($0) }, device: device)
    }

    private func range(_ n: Int, from start: Double = 0) -> [Double] { (0..<n).map { start + Double($0) } }

    func testAvgPoolDivisors() {
        for d in devices {
            let x = t([1, 1, 3, 3], range(9, from: 1), d)
            // Ceil mode without padding: edge windows are clipped to the input (PyTorch divides by 2 and 1).
            let ceil = x.avgPool2d(kernel: (2, 2), ceilMode: true)
            XCTAssertEqual(ceil.shape, [1, 1, 2, 2])
            assertClose(ceil.toDoubleArray(), [3, 4.5, 7.5, 9], atol: 1e-6, "\(d) ceil 2x2")
            // 3x3 stride 2 pad 1: include-pad divides by 9, exclude-pad by the 4 real elements.
            let include = x.avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: true)
            assertClose(include.toDoubleArray(), [12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9], atol: 1e-6, "\(d) include pad")
            let exclude = x.avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: false)
            assertClose(exclude.toDoubleArray(), [3, 4, 6, 7], atol: 1e-6, "\(d) exclude pad")

            // Ceil mode with padding: the last window (start 3) is clipped to the padded input
            // (rows 3...4), so include-pad divides by 2 per axis there.
            let y = t([1, 1, 4, 4], range(16, from: 1), d)
            let overhang = y.avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true, countIncludePad: true)
            XCTAssertEqual(overhang.shape, [1, 1, 3, 3])
            // Row windows: [-1, 2) → rows 0,1 (size 3); [1, 4) → rows 1..3 (3); [3, 5) → row 3 (2).
            let rows: [([Int], Double)] = [([0, 1], 3), ([1, 2, 3], 3), ([3], 2)]
            var expected: [Double] = [], expectedExclude: [Double] = []
            for (r, rh) in rows {
                for (c, cw) in rows {
                    let s = r.reduce(0.0) { acc, i in acc + c.reduce(0.0) { $0 + Double(i * 4 + $1 + 1) } }
                    expected.append(s / (rh * cw))
                    expectedExclude.append(s / Double(r.count * c.count))
                }
            }
            assertClose(overhang.toDoubleArray(), expected, atol: 1e-5, "\(d) ceil + pad include")
            let overhangExclude = y.avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true,
                                              countIncludePad: false)
            assertClose(overhangExclude.toDoubleArray(), expectedExclude, atol: 1e-5, "\(d) ceil + pad exclude")
        }
    }

    func testPoolOutputSizes() {
        for d in devices {
            let x = t([1, 1, 5, 5], range(25), d)
            XCTAssertEqual(x.maxPool2d(kernel: (2, 2)).shape, [1, 1, 2, 2])
            XCTAssertEqual(x.maxPool2d(kernel: (2, 2), ceilMode: true).shape, [1, 1, 3, 3])
            // Ceil mode would give 3 windows, but the third would start at 5 >= input + pad (in the right padding): dropped.
            XCTAssertEqual(x.maxPool2d(kernel: (2, 2), stride: (3, 3), padding: (1, 1), ceilMode: true).shape, [1, 1, 2, 2])
            XCTAssertEqual(x.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)).shape, [1, 1, 3, 3])
            let m = x.maxPool2d(kernel: (2, 2), ceilMode: true)
            assertClose(m.toDoubleArray(), [6, 8, 9, 16, 18, 19, 21, 23, 24], atol: 0, "\(d) max ceil")
            let padded = x.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            assertClose(padded.toDoubleArray(), [6, 8, 9, 16, 18, 19, 21, 23, 24], atol: 0, "\(d) max 3x3 s2 p1")
        }
    }

    func testAdaptivePoolingWindows() {
        for d in devices {
            // x[i, j] = 5i + j; windows rows [0,2) [1,4) [3,5), columns [0,3) [2,5).
            let x = t([1, 1, 5, 5], range(25), d)
            assertClose(x.adaptiveAvgPool2d((3, 2)).toDoubleArray(), [3.5, 5.5, 11, 13, 18.5, 20.5], atol: 1e-5, "\(d) avg")
            assertClose(x.adaptiveMaxPool2d((3, 2)).toDoubleArray(), [7, 9, 17, 19, 22, 24], atol: 0, "\(d) max")
            assertClose(x.adaptiveAvgPool2d((1, 1)).toDoubleArray(), [12], atol: 1e-5, "\(d) global avg")
            XCTAssertEqual(x.adaptiveAvgPool2d((1, 1)).shape, [1, 1, 1, 1])
        }
    }

    func testConvolutionGroupsAndDilation() {
        for d in devices {
            // Groups 2: channel 0 with [[1,0],[0,1]], channel 1 with [[0,1],[1,0]].
            let x = t([1, 2, 3, 3], range(9, from: 1) + range(9, from: 10), d)
            let w = t([2, 1, 2, 2], [1, 0, 0, 1, 0, 1, 1, 0], d)
            let b = t([2], [0.5, -1], d)
            let y = x.conv2d(weight: w, bias: b, groups: 2)
            assertClose(y.toDoubleArray(), [6.5, 8.5, 12.5, 14.5, 23, 25, 29, 31], atol: 1e-5, "\(d) groups")

            // Dilation 2 with a 2x2 kernel of ones on x[i, j] = 5i + j: 20i + 4j + 24.
            let z = t([1, 1, 5, 5], range(25), d)
            let ones = t([1, 1, 2, 2], [1, 1, 1, 1], d)
            let dilated = z.conv2d(weight: ones, dilation: (2, 2))
            XCTAssertEqual(dilated.shape, [1, 1, 3, 3])
            var expected: [Double] = []
            for i in 0..<3 { for j in 0..<3 { expected.append(Double(20 * i + 4 * j + 24)) } }
            assertClose(dilated.toDoubleArray(), expected, atol: 1e-4, "\(d) dilation")

            // Stride 2, padding 1, 3x3 ones: sums of clipped 3x3 neighbourhoods.
            let strided = z.conv2d(weight: t([1, 1, 3, 3], [Double](repeating: 1, count: 9), d), stride: (2, 2), padding: (1, 1))
            XCTAssertEqual(strided.shape, [1, 1, 3, 3])
            var sums: [Double] = []
            for i in stride(from: 0, to: 5, by: 2) {
                for j in stride(from: 0, to: 5, by: 2) {
                    var s = 0.0
                    for r in Swift.max(i - 1, 0)...Swift.min(i + 1, 4) { for c in Swift.max(j - 1, 0)...Swift.min(j + 1, 4) { s += Double(5 * r + c) } }
                    sums.append(s)
                }
            }
            assertClose(strided.toDoubleArray(), sums, atol: 1e-4, "\(d) stride 2 pad 1")
        }
    }

    func testBatchNormStatistics() {
        for d in devices {
            // Channel 0 holds 1, 3, 5, 7 (mean 4, biased variance 5); channel 1 holds 0, 0, 2, 2 (mean 1, variance 1).
            let x = t([2, 2, 2], [1, 3, 0, 0, 5, 7, 2, 2], d)
            let r = x.batchNormTraining(scale: t([2], [2, 1], d), shift: t([2], [1, 0], d), epsilon: 0)
            assertClose(r.mean.toDoubleArray(), [4, 1], atol: 1e-6, "\(d) mean")
            assertClose(r.variance.toDoubleArray(), [5, 1], atol: 1e-5, "\(d) biased variance")
            let s5 = 5.0.squareRoot()
            assertClose(r.output.toDoubleArray(), [-3 / s5 * 2 + 1, -1 / s5 * 2 + 1, -1, -1, 1 / s5 * 2 + 1, 3 / s5 * 2 + 1, 1, 1],
                        atol: 1e-5, "\(d) output")
            let inference = x.batchNormInference(scale: t([2], [2, 1], d), shift: t([2], [1, 0], d), mean: t([2], [1, 0], d),
                                                 variance: t([2], [4, 0.25], d), epsilon: 0)
            assertClose(inference.toDoubleArray(), [1, 3, 0, 0, 5, 7, 4, 4], atol: 1e-5, "\(d) inference")
        }
    }

    func testActivationsAndSoftmaxValues() {
        for d in devices {
            let x = t([3], [-1, 0, 1], d)
            assertClose(x.gelu().toDoubleArray(), [-0.15865525393145707, 0, 0.8413447460685429], atol: 1e-6, "\(d) exact gelu")
            assertClose(x.sigmoid().toDoubleArray(), [0.2689414213699951, 0.5, 0.7310585786300049], atol: 1e-6, "\(d) sigmoid")
            assertClose(x.leakyRelu(slope: 0.1).toDoubleArray(), [-0.1, 0, 1], atol: 1e-7, "\(d) leaky relu")
            let logits = t([2, 3], [1, 2, 3, 1000, 1000, 1000], d)
            assertClose(logits.softmax().toDoubleArray(), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219,
                                                           1.0 / 3, 1.0 / 3, 1.0 / 3], atol: 1e-6, "\(d) softmax")
            assertClose(logits.logSumExp(axes: [1]).toDoubleArray(), [3.4076059644443806, 1000 + Foundation.log(3.0)],
                        atol: 1e-3, "\(d) logSumExp")
            assertClose(logits.logSoftmax(axis: 0).toDoubleArray(), [-999, -998, -997, 0, 0, 0], atol: 1e-3, "\(d) logSoftmax axis 0")
            XCTAssertEqual(logits.argmax(axis: 1), [2, 0], "\(d) argmax (first of ties)")
        }
    }
}
