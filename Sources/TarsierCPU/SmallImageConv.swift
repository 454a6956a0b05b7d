import CTarsierKernels

/// Float32 convolutions over images of at most 4 pixels (ResNet-18's last stages at 32 px:
/// 2x2 and 1x1), as one matrix product per pair of linked pixels.
///
/// On an image this small every (input pixel, output pixel) pair is linked by at most one
/// kernel tap, and most taps of a 3x3 kernel fall into padding. oneDNN's direct kernels spent
/// their time there, and reordering the whole weight: at batch 64 on this CPU, for a
/// 256-channel 3x3 layer on 2x2 they took 2.9 ms forward and 3.0 ms for the weight gradient
/// (about 0.85 and 0.93 ms here); for a 512-channel one on 1x1, 1.1 ms forward, 0.9 ms for the
/// source gradient and 5.1 ms for the weight gradient (about 0.45, 0.4 and 0.5 ms here).
///
/// Each linked pair is one GEMM on the channels-last activations: `Y[:, p] += X[:, q] · W[tap]ᵀ`
/// forward, `dX[:, q] += dY[:, p] · W[tap]` and `dW[tap] += dY[:, p]ᵀ · X[:, q]` backward, with
/// the used taps of the weight gathered into `[tap, out, in]` so each is a plain matrix. The
/// gather and its reverse are one pass over the weight, split over two threads: one strided
/// pass per tap, on one thread, had made them most of the time (the GEMMs of a 512-channel
/// layer on 1x1 take about 0.15 ms; its weight is 9.4 MB). The source gradient of 2x2 outputs
/// stays with oneDNN, which was as fast at batch 64 and faster at batch 16 (0.48 against
/// 0.7 ms).
enum SmallImageConv {
    /// Most pixels an input or output image may have.
    static let maximumPixels = 4

    /// Whether `g`'s forward pass and weight gradient run here: Float32, ungrouped, input and
    /// output of at most `maximumPixels`, channels-last (or single pixels, where the layouts
    /// coincide).
    static func applies(_ g: ConvGeometry, bfloat16: Bool) -> Bool {
        let inPixels = g.inHeight * g.inWidth, outPixels = g.outHeight * g.outWidth
        return !bfloat16 && g.groups == 1 && !g.hasChannelBlocks && inPixels <= maximumPixels
            && outPixels <= maximumPixels && (g.channelsLast || (inPixels == 1 && outPixels == 1))
    }

    /// Whether `g`'s source gradient runs here: as `applies`, with a single output pixel. With
    /// 2x2 outputs oneDNN's backward-data kernel was faster (1.4 against 1.8 ms at 256 channels).
    static func appliesBackwardData(_ g: ConvGeometry, bfloat16: Bool) -> Bool {
        applies(g, bfloat16: bfloat16) && g.outHeight * g.outWidth == 1
    }

    /// Which pixels `g` links through which taps, and the sizes of its matrices.
    struct Layout {
        let g: ConvGeometry
        /// Every linked (input pixel, output pixel), with the position of its kernel tap in
        /// `taps`.
        let links: [(input: Int, output: Int, slot: Int)]
        /// The kernel taps some link uses, increasing (on a 1x1 input only the centre).
        let taps: [Int]
        /// Elements of one weight tap: output channels times input channels.
        var plane: Int { g.outChannels * g.inChannels }
        /// Taps of the whole kernel.
        var kernelTaps: Int { g.kernelHeight * g.kernelWidth }
        /// Elements of one source image and one destination image (channels-last rows).
        var inRow: Int { g.inHeight * g.inWidth * g.inChannels }
        var outRow: Int { g.outHeight * g.outWidth * g.outChannels }

        init(_ g: ConvGeometry) {
            self.g = g
            var linked: [(input: Int, output: Int, tap: Int)] = []
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = oy * g.strideHeight - g.padHeight + ky * g.dilationHeight
                            let ix = ox * g.strideWidth - g.padWidth + kx * g.dilationWidth
                            guard iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth else { continue }
                            linked.append((iy * g.inWidth + ix, oy * g.outWidth + ox, ky * g.kernelWidth + kx))
                        }
                    }
                }
            }
            let taps = Array(Set(linked.map(\.tap))).sorted()
            let slots = Dictionary(uniqueKeysWithValues: taps.enumerated().map { ($0.element, $0.offset) })
            links = linked.map { ($0.input, $0.output, slots[$0.tap] ?? 0) }
            self.taps = taps
        }

        /// Runs `body` with scratch for the `[used tap, out, in]` weight or its gradient.
        func withTapMajor<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(plane * taps.count, 1))
            defer { buffer.deallocate() }
            return body(buffer)
        }

        /// OIHW `[out, in, tap]` -> `[used tap, out, in]`, in one pass over the weight split
        /// over the OpenMP team (a strided pass per tap made the gather most of a 1x1 layer's
        /// forward time).
        func gather(_ weight: UnsafePointer<Float>, into tapMajor: UnsafeMutablePointer<Float>) {
            taps.withUnsafeBufferPointer { taps in
                splitFilters { begin, end in
                    tarsier_gather_taps(weight, plane, kernelTaps, taps.baseAddress, taps.count, begin, end, tapMajor)
                }
            }
        }

        /// `[used tap, out, in]` -> OIHW `[out, in, tap]`, zero at the taps no link uses.
        func scatter(_ tapMajor: UnsafePointer<Float>, into weight: UnsafeMutablePointer<Float>) {
            var slotOfTap = [Int](repeating: -1, count: kernelTaps)
            for (slot, tap) in taps.enumerated() { slotOfTap[tap] = slot }
            slotOfTap.withUnsafeBufferPointer { slotOfTap in
                splitFilters { begin, end in
                    tarsier_scatter_taps(tapMajor, plane, kernelTaps, slotOfTap.baseAddress, begin, end, weight)
                }
            }
        }

        /// Fewest filters per thread before a gather or scatter is split; smaller weights are
        /// copied on the calling thread.
        static let filtersPerThread = 4096

        /// Runs `body(begin, end)` on parts of the filters, one per thread of the OpenMP team.
        private func splitFilters(_ body: (Int, Int) -> Void) {
            let team = Swift.max(1, Swift.min(DNNL.threadCount, plane / Self.filtersPerThread))
            OpenMP.parallel(threads: team) { part, parts in
                body(part * plane / parts, (part + 1) * plane / parts)
            }
        }
    }

    static func forward(_ g: ConvGeometry, source: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, destination: UnsafeMutablePointer<Float>, relu: Bool) {
        let layout = Layout(g)
        destination.update(repeating: 0, count: g.batch * layout.outRow)
        layout.withTapMajor { tapMajor in
            layout.gather(weight, into: tapMajor)
            for link in layout.links {
                DNNL.sgemm(transposeA: false, transposeB: true, m: g.batch, n: g.outChannels, k: g.inChannels,
                           alpha: 1, a: source + link.input * g.inChannels, lda: layout.inRow,
                           b: tapMajor + link.slot * layout.plane, ldb: g.inChannels, beta: 1,
                           c: destination + link.output * g.outChannels, ldc: layout.outRow)
            }
        }
        guard bias != nil || relu else { return }
        for pixel in 0..<(g.batch * g.outHeight * g.outWidth) {
            let values = destination + pixel * g.outChannels
            for output in 0..<g.outChannels {
                let value = values[output] + (bias?[output] ?? 0)
                values[output] = relu ? Swift.max(value, 0) : value
            }
        }
    }

    static func backwardData(_ g: ConvGeometry, destinationGradient: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, sourceGradient: UnsafeMutablePointer<Float>) {
        let layout = Layout(g)
        sourceGradient.update(repeating: 0, count: g.batch * layout.inRow)
        layout.withTapMajor { tapMajor in
            layout.gather(weight, into: tapMajor)
            for link in layout.links {
                DNNL.sgemm(transposeA: false, transposeB: false, m: g.batch, n: g.inChannels, k: g.outChannels,
                           alpha: 1, a: destinationGradient + link.output * g.outChannels, lda: layout.outRow,
                           b: tapMajor + link.slot * layout.plane, ldb: g.inChannels, beta: 1,
                           c: sourceGradient + link.input * g.inChannels, ldc: layout.inRow)
            }
        }
    }

    static func backwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                destinationGradient: UnsafePointer<Float>,
                                weightGradient: UnsafeMutablePointer<Float>,
                                biasGradient: UnsafeMutablePointer<Float>?) {
        let layout = Layout(g)
        layout.withTapMajor { tapMajor in
            tapMajor.update(repeating: 0, count: layout.plane * layout.taps.count)
            for link in layout.links {
                DNNL.sgemm(transposeA: true, transposeB: false, m: g.outChannels, n: g.inChannels, k: g.batch,
                           alpha: 1, a: destinationGradient + link.output * g.outChannels, lda: layout.outRow,
                           b: source + link.input * g.inChannels, ldb: layout.inRow, beta: 1,
                           c: tapMajor + link.slot * layout.plane, ldc: g.inChannels)
            }
            layout.scatter(tapMajor, into: weightGradient)
        }
        if let biasGradient {
            sumPixels(destinationGradient, pixels: g.batch * g.outHeight * g.outWidth, channels: g.outChannels,
                      into: biasGradient)
        }
    }
}

/// The bias gradient of a convolution from its channels-last destination gradient: the sum over
/// all `pixels` (batch times output pixels) of each of the `channels` columns.
func sumPixels(_ values: UnsafePointer<Float>, pixels: Int, channels: Int, into sums: UnsafeMutablePointer<Float>) {
    sums.update(repeating: 0, count: channels)
    for pixel in 0..<pixels {
        let row = values + pixel * channels
        for channel in 0..<channels { sums[channel] += row[channel] }
    }
}
