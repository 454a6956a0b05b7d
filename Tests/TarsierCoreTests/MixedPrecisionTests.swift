import XCTest
@testable import TarsierCore
import TarsierSupport

/// bf16 convolution passes agree with the Float64 reference to bf16's precision (8 bits of
/// mantissa: about 4e-3 relative per operand), and the switch restores Float32 exactly.
final class MixedPrecisionTests: XCTestCase {
    func testBFloat16ConvolutionPassesAgreeWithReference() throws {
        try checkBFloat16Passes(stride: 2, channelsLast: false, upstreamShape: [3, 6, 5, 4])
    }

    /// Stride 1 on channels-last activations: the bf16 backward-data pass runs as the
    /// transposed forward convolution.
    func testBFloat16StrideOneChannelsLast() throws {
        try checkBFloat16Passes(stride: 1, channelsLast: true, upstreamShape: [3, 6, 9, 7])
    }

    /// `backwardWeightsWhereFaster` rounds the weight gradient to bf16 precision on a 14x14
    /// output with 16 input channels and on 3x3 outputs (the lowered product, any channel count),
    /// and leaves it Float32-exact on 7x7 and on 14x14 with fewer channels. (The CPU backend
    /// runs convolutions channels-last.)
    func testBackwardWeightsWhereFaster() throws {
        let previous = CPUBackend.bfloat16Convolutions
        defer { CPUBackend.bfloat16Convolutions = previous }
        CPUBackend.bfloat16Convolutions = [.backwardWeightsWhereFaster]
        let cases = [(side: 14, channels: 16, rounded: true), (side: 7, channels: 16, rounded: false),
                     (side: 14, channels: 8, rounded: false), (side: 3, channels: 16, rounded: true),
                     (side: 3, channels: 5, rounded: true)]
        for (side, channels, rounded) in cases {
            let label = "\(side)x\(side), \(channels) channels"
            var generator = SeededGenerator(seed: 5)
            let x = Tensor.normal([2, channels, side, side], generator: &generator)
            let w = Tensor.normal([4, channels, 3, 3], standardDeviation: 0.3, generator: &generator)
            let upstream = Tensor.normal([2, 4, side, side], generator: &generator)
            func weightGradient(_ device: Device) -> [Double] {
                let dtype: DType = device == .reference ? .float64 : .float32
                let xd = x.to(device).cast(to: dtype)
                let wd = w.to(device).cast(to: dtype).requiringGrad()
                xd.conv2d(weight: wd, padding: (1, 1)).backward(gradient: upstream.to(device).cast(to: dtype))
                return wd.grad?.toDoubleArray() ?? []
            }
            let reference = weightGradient(.reference), cpu = weightGradient(.cpu)
            let scale = reference.map(Swift.abs).max() ?? 1
            let error = (zip(cpu, reference).map { Swift.abs($0 - $1) }.max() ?? .infinity) / scale
            XCTAssertEqual(cpu.count, reference.count)
            if rounded {
                XCTAssertGreaterThan(error, 1e-5, "\(label): bf16 expected")
                XCTAssertLessThan(error, 2e-2, label)
            } else {
                XCTAssertLessThan(error, 1e-5, "\(label): Float32 expected")
            }
        }
    }

    private func checkBFloat16Passes(stride: Int, channelsLast: Bool, upstreamShape: [Int]) throws {
        var generator = SeededGenerator(seed: 11)
        let x = Tensor.normal([3, 5, 9, 7], generator: &generator)
        let w = Tensor.normal([6, 5, 3, 3], standardDeviation: 0.3, generator: &generator)
        let upstream = Tensor.normal(upstreamShape, generator: &generator)

        func run(_ device: Device) -> (y: [Double], gx: [Double], gw: [Double]) {
            let xd = x.to(device).cast(to: device == .reference ? .float64 : .float32).requiringGrad()
            let wd = w.to(device).cast(to: xd.dtype).requiringGrad()
            let input = channelsLast && device != .reference ? xd.channelsLast() : xd
            let y = input.conv2d(weight: wd, stride: (stride, stride), padding: (1, 1))
            y.backward(gradient: upstream.to(device).cast(to: xd.dtype))
            return (y.contiguous().toDoubleArray(), xd.grad?.contiguous().toDoubleArray() ?? [],
                    wd.grad?.toDoubleArray() ?? [])
        }
        let reference = run(.reference)
        let previous = CPUBackend.bfloat16Convolutions
        defer { CPUBackend.bfloat16Convolutions = previous }
        for passes: ConvolutionPasses in [.all, [.forward, .backwardData]] {
            CPUBackend.bfloat16Convolutions = passes
            let mixed = run(.cpu)
            for (name, a, b) in [("output", mixed.y, reference.y), ("input grad", mixed.gx, reference.gx),
                                 ("weight grad", mixed.gw, reference.gw)] {
                let scale = b.map(Swift.abs).max() ?? 1
                let error = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? .infinity
                XCTAssertEqual(a.count, b.count)
                XCTAssertLessThan(error / scale, 2e-2, "\(name) with bf16 passes \(passes.rawValue)")
                // bf16 really was used: results differ from Float32's ~1e-7 agreement.
                if name == "output" { XCTAssertGreaterThan(error / scale, 1e-5, "bf16 forward should round") }
            }
        }
        CPUBackend.bfloat16Convolutions = []
        let float32 = run(.cpu)
        let scale = reference.y.map(Swift.abs).max() ?? 1
        XCTAssertLessThan((zip(float32.y, reference.y).map { Swift.abs($0 - $1) }.max() ?? 1) / scale, 1e-5)
    }
}
