import XCTest
@testable import TarsierCore
import TarsierSupport

/// Element-wise work on large tensors runs through oneDNN on the CPU backend (small tensors use
/// the plain loops); both must agree with the reference, forward and backward, in both layouts.
final class LargeElementwiseParityTests: XCTestCase {
    func testActivationsAndArithmeticAboveTheParallelThreshold() {
        let shape = [4, 16, 24, 30]  // 46,080 elements, above CPUBackend.parallelElementwiseThreshold
        XCTAssertGreaterThan(shape.reduce(1, *), CPUBackend.parallelElementwiseThreshold)
        var generator = SeededGenerator(seed: 5)
        let a = Tensor.normal(shape, generator: &generator)
        let b = Tensor.normal(shape, generator: &generator)
        let upstream = Tensor.normal(shape, generator: &generator)
        let ops: [(String, (Tensor, Tensor) -> Tensor)] = [
            ("relu", { x, _ in x.relu() }),
            ("leakyRelu", { x, _ in x.leakyRelu(slope: 0.2) }),
            ("sigmoid", { x, _ in x.sigmoid() }),
            ("tanh", { x, _ in x.tanh() }),
            ("gelu", { x, _ in x.gelu() }),
            ("add", { x, y in x + y }),
            ("multiply", { x, y in x * y }),
        ]
        for channelsLast in [false, true] {
            for (name, op) in ops {
                func run(_ device: Device) -> [[Double]] {
                    var x = a.to(device), y = b.to(device)
                    if channelsLast { x = x.channelsLast(); y = y.channelsLast() }
                    let xg = x.requiringGrad(), yg = y.requiringGrad()
                    let out = op(xg, yg)
                    out.backward(gradient: upstream.to(device))
                    return [out.toDoubleArray(), xg.grad?.toDoubleArray() ?? [], yg.grad?.toDoubleArray() ?? []]
                }
                let cpu = run(.cpu), reference = run(.reference)
                for (part, (c, r)) in zip(["output", "grad a", "grad b"], zip(cpu, reference)) {
                    XCTAssertEqual(c.count, r.count, "\(name) \(part)")
                    let scale = max(r.map(Swift.abs).max() ?? 0, 1e-12)
                    let error = zip(c, r).map { Swift.abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(error / scale, 1e-5, "\(name) \(part) channelsLast=\(channelsLast)")
                }
            }
        }
    }
}
