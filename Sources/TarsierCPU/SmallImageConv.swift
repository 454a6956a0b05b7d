/// Float32 convolutions over images of at most 4 pixels (ResNet-18's last stages at 32 px:
/// 2x2 and 1x1), as one matrix product per pair of linked pixels.
///
/// On an image this small every (input pixel, output pixel) pair is linked by at most one
/// kernel tap, and most taps of a 3x3 kernel fall into padding. oneDNN's direct kernels spent
/// their time there, and reordering the whole weight: at batch 64 on this CPU, for a
/// 256-channel 3x3 layer on 2x2 they took 2.9 ms forward and 3.0 ms for the weight gradient
/// (1.8 and 2.0 ms here); for a 512-channel one on 1x1, 1.1 ms forward, 0.9 ms for the source
/// gradient and 5.1 ms for the weight gradient (0.76, 0.68 and 1.95 ms here).
///
/// Each linked pair is one GEMM on the channels-last activations: `Y[:, p] += X[:, q] · W[tap]ᵀ`
/// forward, `dX[:, q] += dY[:, p] · W[tap]` and `dW[tap] += dY[:, p]ᵀ · X[:, q]` backward, with
/// the used taps of the weight gathered into `[tap, out, in]` so each is a plain matrix. The
/// source gradient of 2x2 outputs stays with oneDNN, which was faster there.
enum SmallImageConv {
    /// Most pixels an input or output image may have.
    static let maximumPixels = 4

    /// Whether `g`'s forward pass and weight gradient run here: Float32, ungrouped, input and
    /// output of at most `maximumPixels`, channels-last (or single pixels, where the layouts
    /// coincide).
    static func applies(_ g: ConvGeometry, bfloat16: Bool) -> Bool {
        let inPixels = g.inHeight * g.inWidth, outPixels = g.outHeight * g.outWidth
        return !bfloat16 && g.groups == 1 && inPixels <= maximumPixels && outPixels <= maximumPixels
            && (g.channelsLast || (inPixels == 1 && outPixels == 1))
    }

    /// Whether `g`'s source gradient runs here: as `applies`, with a single output pixel. With
    /// 2x2 outputs oneDNN's backward-data kernel was faster (1.4 against 1.8 ms at 256 channels).
    static func appliesBackwardData(_ g: ConvGeometry, bfloat16: Bool) -> Bool {
        applies(g, bfloat16: bfloat16) && g.outHeight * g.outWidth == 1
    }

    /// Every (input pixel, output pixel, kernel tap) that `g` links.
    static func links(_ g: ConvGeometry) -> [(input: Int, output: Int, tap: Int)] {
        var links: [(input: Int, output: Int, tap: Int)] = []
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let iy = oy * g.strideHeight - g.padHeight + ky * g.dilationHeight
                        let ix = ox * g.strideWidth - g.padWidth + kx * g.dilationWidth
                        guard iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth else { continue }
                        links.append((iy * g.inWidth + ix, oy * g.outWidth + ox, ky * g.kernelWidth + kx))
                    }
                }
            }
        }
        return links
    }

    /// The links, and the taps they use in increasing order (on a 1x1 input only the centre).
    struct Pattern {
        let links: [(input: Int, output: Int, tap: Int)]
        let taps: [Int]
        /// `taps`' position of each kernel tap (nil for taps no link uses).
        let slot: [Int?]

        /// OIHW `[out, in, tap]` -> `[used tap, out, in]`, one strided pass per used tap.
        func gatherTaps(_ weight: UnsafePointer<Float>, plane: Int, kernelTaps: Int,
                        into tapMajor: UnsafeMutablePointer<Float>) {
            for (index, tap) in taps.enumerated() {
                let destination = tapMajor + index * plane, source = weight + tap
                for filter in 0..<plane { destination[filter] = source[filter * kernelTaps] }
            }
        }

        init(_ g: ConvGeometry) {
            links = SmallImageConv.links(g)
            taps = Array(Set(links.map(\.tap))).sorted()
            var slot = [Int?](repeating: nil, count: g.kernelHeight * g.kernelWidth)
            for (index, tap) in taps.enumerated() { slot[tap] = index }
            self.slot = slot
        }
    }

    /// Scratch for the `[used tap, out, in]` weight (or its gradient), freed when `body` returns.
    private static func withTapMajorWeight<R>(_ g: ConvGeometry, _ pattern: Pattern,
                                              _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let count = g.outChannels * g.inChannels * pattern.taps.count
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
        defer { buffer.deallocate() }
        return body(buffer)
    }

    static func forward(_ g: ConvGeometry, source: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, destination: UnsafeMutablePointer<Float>, relu: Bool) {
        let taps = g.kernelHeight * g.kernelWidth, plane = g.outChannels * g.inChannels
        let inRow = g.inHeight * g.inWidth * g.inChannels, outPixels = g.outHeight * g.outWidth
        let outRow = outPixels * g.outChannels
        let pattern = Pattern(g)
        destination.update(repeating: 0, count: g.batch * outRow)
        withTapMajorWeight(g, pattern) { tapMajor in
            pattern.gatherTaps(weight, plane: plane, kernelTaps: taps, into: tapMajor)
            for link in pattern.links {
                let slot = pattern.slot[link.tap] ?? 0
                DNNL.sgemm(transposeA: false, transposeB: true, m: g.batch, n: g.outChannels, k: g.inChannels,
                           alpha: 1, a: source + link.input * g.inChannels, lda: inRow,
                           b: tapMajor + slot * plane, ldb: g.inChannels, beta: 1,
                           c: destination + link.output * g.outChannels, ldc: outRow)
            }
        }
        guard bias != nil || relu else { return }
        for pixel in 0..<(g.batch * outPixels) {
            let values = destination + pixel * g.outChannels
            for output in 0..<g.outChannels {
                let value = values[output] + (bias?[output] ?? 0)
                values[output] = relu ? Swift.max(value, 0) : value
            }
        }
    }

    static func backwardData(_ g: ConvGeometry, destinationGradient: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, sourceGradient: UnsafeMutablePointer<Float>) {
        let taps = g.kernelHeight * g.kernelWidth, plane = g.outChannels * g.inChannels
        let inRow = g.inHeight * g.inWidth * g.inChannels
        let outRow = g.outHeight * g.outWidth * g.outChannels
        let pattern = Pattern(g)
        sourceGradient.update(repeating: 0, count: g.batch * inRow)
        withTapMajorWeight(g, pattern) { tapMajor in
            pattern.gatherTaps(weight, plane: plane, kernelTaps: taps, into: tapMajor)
            for link in pattern.links {
                let slot = pattern.slot[link.tap] ?? 0
                DNNL.sgemm(transposeA: false, transposeB: false, m: g.batch, n: g.inChannels, k: g.outChannels,
                           alpha: 1, a: destinationGradient + link.output * g.outChannels, lda: outRow,
                           b: tapMajor + slot * plane, ldb: g.inChannels, beta: 1,
                           c: sourceGradient + link.input * g.inChannels, ldc: inRow)
            }
        }
    }

    static func backwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                destinationGradient: UnsafePointer<Float>,
                                weightGradient: UnsafeMutablePointer<Float>,
                                biasGradient: UnsafeMutablePointer<Float>?) {
        let taps = g.kernelHeight * g.kernelWidth, plane = g.outChannels * g.inChannels
        let inRow = g.inHeight * g.inWidth * g.inChannels, outPixels = g.outHeight * g.outWidth
        let outRow = outPixels * g.outChannels
        let pattern = Pattern(g)
        withTapMajorWeight(g, pattern) { tapMajor in
            tapMajor.update(repeating: 0, count: plane * pattern.taps.count)
            for link in pattern.links {
                let slot = pattern.slot[link.tap] ?? 0
                DNNL.sgemm(transposeA: true, transposeB: false, m: g.outChannels, n: g.inChannels, k: g.batch,
                           alpha: 1, a: destinationGradient + link.output * g.outChannels, lda: outRow,
                           b: source + link.input * g.inChannels, ldb: inRow, beta: 1,
                           c: tapMajor + slot * plane, ldc: g.inChannels)
            }
            // [used tap, out, in] -> OIHW [out, in, tap], zero at taps no link uses.
            weightGradient.update(repeating: 0, count: plane * taps)
            for filter in 0..<plane {
                for (index, tap) in pattern.taps.enumerated() {
                    weightGradient[filter * taps + tap] = tapMajor[index * plane + filter]
                }
            }
        }
        if let biasGradient {
            biasGradient.update(repeating: 0, count: g.outChannels)
            for pixel in 0..<(g.batch * outPixels) {
                let values = destinationGradient + pixel * g.outChannels
                for output in 0..<g.outChannels { biasGradient[output] += values[output] }
            }
        }
    }
}
