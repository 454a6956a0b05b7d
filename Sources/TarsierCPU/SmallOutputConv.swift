/// The weight gradient of a Float32 convolution with a single output pixel per image, as one
/// matrix product over the kernel taps that touch the input.
///
/// Late layers of small-image networks (ResNet-18 on 32x32 input ends at 1x1) make oneDNN's
/// direct backward-weights kernels work mostly on padding: a 3x3 convolution over a 1x1 input
/// uses only its centre tap. On this CPU, at batch 64 with 2 threads, oneDNN's pass took 6.6 ms
/// (with its reorders) for a 512-channel 3x3 layer on a 1x1 input and 5.2 ms for the stride-2
/// 256-to-512 layer on 2x2; this product took 2.6 ms for each, most of it writing the 9-tap
/// gradient. Forward and backward-data passes gained nothing (both are bound by reading the
/// mostly dead weight), nor did 2x2 outputs, so they stay with oneDNN.
enum SmallOutputConv {
    /// Whether `g`'s weight gradient is computed here: Float32, ungrouped, one output pixel.
    static func applies(_ g: ConvGeometry, bfloat16: Bool) -> Bool {
        !bfloat16 && g.groups == 1 && g.outHeight == 1 && g.outWidth == 1 && Layout(g).depth > 0
    }

    /// The kernel rows (or columns) that read inside the input.
    static func liveTaps(kernel: Int, pad: Int, dilation: Int, input: Int) -> [Int] {
        (0..<kernel).filter { tap in
            let coordinate = tap * dilation - pad
            return coordinate >= 0 && coordinate < input
        }
    }

    /// The live taps of `g` and the matrix they give.
    struct Layout {
        let g: ConvGeometry
        let rows: [Int], columns: [Int]
        /// Columns of the gathered source: live taps times input channels, ordered
        /// `[tap row, tap column, channel]`.
        var depth: Int { rows.count * columns.count * g.inChannels }

        init(_ g: ConvGeometry) {
            self.g = g
            rows = liveTaps(kernel: g.kernelHeight, pad: g.padHeight, dilation: g.dilationHeight, input: g.inHeight)
            columns = liveTaps(kernel: g.kernelWidth, pad: g.padWidth, dilation: g.dilationWidth, input: g.inWidth)
        }

        /// `source` as `[batch, depth]`: each image's pixels under the live taps.
        func gatherSource(_ source: UnsafePointer<Float>, into matrix: UnsafeMutablePointer<Float>) {
            let imageSize = g.inChannels * g.inHeight * g.inWidth
            let channelStride = g.channelsLast ? 1 : g.inHeight * g.inWidth
            for n in 0..<g.batch {
                var destination = matrix + n * depth
                for tapRow in rows {
                    for tapColumn in columns {
                        let y = tapRow * g.dilationHeight - g.padHeight
                        let x = tapColumn * g.dilationWidth - g.padWidth
                        let pixel = y * g.inWidth + x
                        let start = source + n * imageSize + (g.channelsLast ? pixel * g.inChannels : pixel)
                        if channelStride == 1 {
                            destination.update(from: start, count: g.inChannels)
                        } else {
                            for channel in 0..<g.inChannels { destination[channel] = start[channel * channelStride] }
                        }
                        destination += g.inChannels
                    }
                }
            }
        }

        /// Writes a `[outChannels, depth]` gradient into the OIHW weight gradient (zero at the
        /// taps that never touch the input).
        func scatterWeight(_ matrix: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
            let kernelSize = g.kernelHeight * g.kernelWidth
            gradient.update(repeating: 0, count: g.outChannels * g.inChannels * kernelSize)
            for output in 0..<g.outChannels {
                var column = 0
                for tapRow in rows {
                    for tapColumn in columns {
                        let tap = tapRow * g.kernelWidth + tapColumn
                        let values = matrix + output * depth + column
                        let filters = gradient + output * g.inChannels * kernelSize + tap
                        for input in 0..<g.inChannels { filters[input * kernelSize] = values[input] }
                        column += g.inChannels
                    }
                }
            }
        }
    }

    /// `weightGradient = destinationGradientᵀ · gathered source` (and the bias gradient, the
    /// destination gradient's column sums). With one output pixel the destination gradient is
    /// `[batch, outChannels]` in either layout.
    static func backwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                destinationGradient: UnsafePointer<Float>,
                                weightGradient: UnsafeMutablePointer<Float>,
                                biasGradient: UnsafeMutablePointer<Float>?) {
        let layout = Layout(g)
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: g.batch * layout.depth)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * layout.depth)
        defer {
            columns.deallocate()
            product.deallocate()
        }
        layout.gatherSource(source, into: columns)
        DNNL.sgemm(transposeA: true, transposeB: false, m: g.outChannels, n: layout.depth, k: g.batch,
                   alpha: 1, a: destinationGradient, lda: g.outChannels, b: columns, ldb: layout.depth,
                   beta: 0, c: product, ldc: layout.depth)
        layout.scatterWeight(product, into: weightGradient)
        if let biasGradient {
            biasGradient.update(repeating: 0, count: g.outChannels)
            for n in 0..<g.batch {
                for channel in 0..<g.outChannels { biasGradient[channel] += destinationGradient[n * g.outChannels + channel] }
            }
        }
    }
}
