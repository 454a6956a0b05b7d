import XCTest
@testable import TarsierCore
import TarsierCPU
import TarsierSupport

/// The channel-blocked inference kernels (oneDNN nChw16c on the CPU) against their definition on
/// the reference backend (unblock, convolve or pool, add, block) in Float64, on odd shapes.
final class ChannelBlockedTests: XCTestCase {
    private func random(_ count: Int, seed: UInt64) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        return ValueDomain.symmetric.values(count, &generator)
    }

    private func cpu(_ shape: [Int], _ values: [Double]) -> Tensor {
        Tensor(shape: shape, data: values.map(Float.init), device: .cpu)
    }

    /// The Float32 values as Float64, so both backends see the same inputs.
    private func rounded(_ values: [Double]) -> [Double] { values.map { Double(Float($0)) } }

    func testBlockingPlacesEveryValue() {
        let shape = [2, 32, 3, 5]
        let x = cpu(shape, (0..<shape.reduce(1, *)).map(Double.init))
        let blocked = x.channelBlocked()
        XCTAssertEqual(blocked.shape, [2, 2, 3, 5, 16])
        XCTAssertTrue(blocked.isChannelBlocked)
        let values = blocked.toArray()
        for n in 0..<2 { for c in 0..<32 { for h in 0..<3 { for w in 0..<5 {
            let source = ((n * 32 + c) * 3 + h) * 5 + w
            let target = (((n * 2 + c / 16) * 3 + h) * 5 + w) * 16 + c % 16
            XCTAssertEqual(values[target], Float(source), "[\(n), \(c), \(h), \(w)]")
        } } } }
        XCTAssertEqual(blocked.channelUnblocked().toArray(), x.toArray())
        XCTAssertEqual(x.channelsLast().channelBlocked().toArray(), values, "from channels-last")
    }

    private struct Case {
        let name: String
        var batch = 1, inChannels = 16, height = 8, width = 8, outChannels = 16
        var kernel = 3, stride = 1, padding = 1, dilation = 1
        var bias = false, relu = false, residual = false
        /// The source as a dense 4-D tensor (row-major, or channels-last) instead of blocked.
        var plainSource = false, channelsLastSource = false
        /// The weight as a parameter, so the cached inference plan (Winograd where eligible) runs.
        var parameter = false
    }

    private let cases: [Case] = [
        Case(name: "stem: 3-channel NCHW batch, 7x7 stride 2", batch: 2, inChannels: 3, height: 23, width: 19,
             kernel: 7, stride: 2, padding: 3, relu: true, plainSource: true, parameter: true),
        Case(name: "channels-last 4-D batch with bias", inChannels: 5, height: 9, width: 11, outChannels: 32,
             bias: true, plainSource: true, channelsLastSource: true),
        Case(name: "stride 2 on a rectangular image, batch 3", batch: 3, inChannels: 32, height: 13, width: 10,
             outChannels: 48, stride: 2, relu: true),
        Case(name: "dilation 2", height: 12, width: 12, padding: 2, dilation: 2, bias: true),
        Case(name: "1x1 stride 2 projection", batch: 2, inChannels: 32, height: 9, width: 9, outChannels: 64,
             kernel: 1, stride: 2, padding: 0, parameter: true),
        Case(name: "Winograd-sized 3x3 with residual and ReLU", inChannels: 32, height: 16, width: 16,
             outChannels: 32, relu: true, residual: true, parameter: true),
        Case(name: "residual without ReLU, batch 2, 7x7", batch: 2, height: 7, width: 7, bias: true, residual: true),
        Case(name: "64 channels at 4x5 with residual, bias and ReLU", inChannels: 64, height: 4, width: 5,
             outChannels: 64, bias: true, relu: true, residual: true, parameter: true),
    ]

    func testConvolutionMatchesItsDefinition() {
        for (index, c) in cases.enumerated() {
            let seed = UInt64(index * 10)
            let sourceShape = [c.batch, c.inChannels, c.height, c.width]
            let source = rounded(random(sourceShape.reduce(1, *), seed: seed))
            let weightShape = [c.outChannels, c.inChannels, c.kernel, c.kernel]
            let weight = rounded(random(weightShape.reduce(1, *), seed: seed + 1).map { $0 * 0.3 })
            let bias = c.bias ? rounded(random(c.outChannels, seed: seed + 2)) : nil
            let outHeight = (c.height + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride + 1
            let outWidth = (c.width + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride + 1
            let outputShape = [c.batch, c.outChannels, outHeight, outWidth]
            let residual = c.residual ? rounded(random(outputShape.reduce(1, *), seed: seed + 3)) : nil

            func run(_ make: ([Int], [Double]) -> Tensor, parameter: Bool) -> (result: Tensor, residual: Tensor?) {
                var x = make(sourceShape, source)
                if !c.plainSource { x = x.channelBlocked() } else if c.channelsLastSource { x = x.channelsLast() }
                var w = make(weightShape, weight)
                if parameter { w = w.requiringGrad() }
                let r = residual.map { make(outputShape, $0).channelBlocked() }
                let y = Autograd.withNoGrad {
                    x.channelBlockedConv2d(weight: w, bias: bias.map { make([c.outChannels], $0) },
                                           stride: (c.stride, c.stride), padding: (c.padding, c.padding),
                                           dilation: (c.dilation, c.dilation), relu: c.relu, residual: r)
                }
                return (y, r)
            }
            let expected = run({ Tensor.ref($0, $1) }, parameter: false).result
            let (actual, cpuResidual) = run(cpu, parameter: c.parameter)
            XCTAssertEqual(actual.shape, [c.batch, c.outChannels / 16, outHeight, outWidth, 16], c.name)
            XCTAssertTrue(actual.isChannelBlocked, c.name)
            let want = expected.toDoubleArray()
            // Winograd's rounding is about 8x the direct kernels' (ConvTests).
            assertRelativelyClose(actual.toDoubleArray(), want, tolerance: 2e-5, c.name)
            if let cpuResidual {
                XCTAssertTrue(actual.storage === cpuResidual.storage, "\(c.name): the sum lands in the residual's buffer")
            }
            // A second call (cached plan and weight) gives the same values.
            assertRelativelyClose(run(cpu, parameter: c.parameter).result.toDoubleArray(), want, tolerance: 2e-5,
                                  "\(c.name), second call")
        }
    }

    func testMaxPoolMatchesItsDefinition() {
        let cases: [(shape: [Int], kernel: Int, stride: Int, padding: Int)] = [
            ([2, 32, 11, 9], 3, 2, 1), ([1, 16, 8, 8], 2, 2, 0), ([3, 48, 5, 7], 3, 1, 1),
        ]
        for (index, c) in cases.enumerated() {
            var generator = SeededGenerator(seed: UInt64(100 + index))
            let values = ValueDomain.noTies.values(c.shape.reduce(1, *), &generator)
            func pool(_ x: Tensor) -> Tensor {
                Autograd.withNoGrad {
                    x.channelBlocked().channelBlockedMaxPool2d(kernel: (c.kernel, c.kernel), stride: (c.stride, c.stride),
                                                               padding: (c.padding, c.padding))
                }
            }
            let expected = pool(Tensor.ref(c.shape, rounded(values))).toDoubleArray()
            let actual = pool(cpu(c.shape, values))
            XCTAssertEqual(actual.toDoubleArray(), expected, "\(c.shape) kernel \(c.kernel) stride \(c.stride)")
            // And the plain max pool agrees with the blocked one on the CPU.
            let plain = Autograd.withNoGrad {
                cpu(c.shape, values).maxPool2d(kernel: (c.kernel, c.kernel), stride: (c.stride, c.stride),
                                               padding: (c.padding, c.padding))
            }
            XCTAssertEqual(actual.channelUnblocked().toArray(), plain.contiguous().toArray(), "\(c.shape) against maxPool2d")
        }
    }

    func testTransposedGeometrySwapsLayouts() {
        var g = ConvGeometry(batch: 1, inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 32,
                             kernelHeight: 3, kernelWidth: 3, padHeight: 1, padWidth: 1)
        g.sourceLayout = .channelsLast
        g.destinationLayout = .channelBlocked
        let transposed = g.transposedForBackwardData
        XCTAssertEqual(transposed?.sourceLayout, .channelBlocked)
        XCTAssertEqual(transposed?.destinationLayout, .channelsLast)
        XCTAssertFalse(g.channelsLast)
        g.channelsLast = true
        XCTAssertEqual(g.sourceLayout, .channelsLast)
        XCTAssertEqual(g.destinationLayout, .channelsLast)
    }
}
