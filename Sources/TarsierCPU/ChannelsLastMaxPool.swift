import CTarsierKernels

/// Max pooling of channels-last (NHWC) activations whose windows tile the input (2x2 stride 2,
/// say), with plain loops over each pixel's contiguous channels (C, vectorised by the
/// compiler), split over the batch on OpenMP's threads.
///
/// oneDNN 2.6's NHWC pooling kernels were slow here. resnet9s's pools at batch 256 (2x2 over 32
/// channels at 28x28, 64 at 14x14, 128 at 7x7) took about 18 ms per training step forward and
/// backward, although the activations fit in the 300 MB cache, where two threads stream
/// 45 GB/s; these loops took about 9 ms (profiled, alternating runs). For LeNet's pool over 6
/// channels oneDNN took 0.67 ms forward and 1.05 ms backward; the plain Swift loops these
/// replace took 0.29 and 0.38 ms, and these cut LeNet's pool backward a further 3x (0.10 ->
/// 0.03 s per 33 steps, profiled). For overlapping windows (ResNet's 3x3 stride-2 stem pool)
/// loops like these were slower backward than oneDNN, which keeps them.
///
/// The forward pass records which element of its window each output came from (one byte per
/// output), and the backward pass routes the gradient by that record alone. Finding the maximum
/// again from the saved input and output instead read about 5x the bytes (for 2x2 windows the
/// input is 4x the output, and the record a quarter of it) and kept the input alive until the
/// backward pass. Ties go to the first maximum in row-major window order and NaN wins, as in
/// PyTorch.
public enum ChannelsLastMaxPool {
    /// Whether these kernels handle `g`: channels-last activations and windows of at most 256
    /// elements that tile the input (stride equal to the kernel, no padding, no window past the
    /// input's end).
    public static func applies(_ g: PoolGeometry) -> Bool {
        g.channelsLast && g.strideHeight == g.kernelHeight && g.strideWidth == g.kernelWidth
            && g.kernelHeight * g.kernelWidth <= 256
            && g.padHeight == 0 && g.padWidth == 0
            && g.outHeight * g.kernelHeight <= g.inHeight && g.outWidth * g.kernelWidth <= g.inWidth
    }

    /// Fewest source elements per thread worth a thread of its own.
    static let elementsPerThread = 1 << 16

    static func shape(_ g: PoolGeometry) -> tarsier_pool_shape {
        tarsier_pool_shape(channels: g.channels, in_height: g.inHeight, in_width: g.inWidth,
                           out_height: g.outHeight, out_width: g.outWidth,
                           kernel_height: g.kernelHeight, kernel_width: g.kernelWidth)
    }

    /// Runs `body(first image, image count)` over parts of the batch, on up to `threads` of
    /// OpenMP's threads.
    static func splitBatch(_ g: PoolGeometry, threads: Int, _ body: (Int, Int) -> Void) {
        let elements = g.batch * g.channels * g.inHeight * g.inWidth
        let team = Swift.max(1, Swift.min(threads, g.batch, elements / elementsPerThread))
        OpenMP.parallel(threads: team) { part, parts in
            let first = part * g.batch / parts
            body(first, (part + 1) * g.batch / parts - first)
        }
    }

    /// Writes each window's maximum, and with `argmax` (one byte per output element) which
    /// element of the window it came from, for `backward`.
    /// - Parameter threads: Most threads to split the batch over.
    public static func forward(_ g: PoolGeometry, source: UnsafePointer<Float>,
                               destination: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>?,
                               threads: Int) {
        precondition(applies(g), "ChannelsLastMaxPool: unsupported geometry \(g)")
        var s = shape(g)
        let inImage = g.channels * g.inHeight * g.inWidth, outImage = g.channels * g.outHeight * g.outWidth
        splitBatch(g, threads: threads) { first, count in
            tarsier_max_pool_nhwc_forward(&s, count, source + first * inImage, destination + first * outImage,
                                          argmax.map { $0 + first * outImage })
        }
    }

    /// Routes each output gradient to the input `argmax` (from `forward`) names, the first
    /// maximum of its window; inputs that are no window's maximum get zero.
    /// - Parameter threads: Most threads to split the batch over.
    public static func backward(_ g: PoolGeometry, argmax: UnsafePointer<UInt8>,
                                destinationGradient: UnsafePointer<Float>,
                                sourceGradient: UnsafeMutablePointer<Float>, threads: Int) {
        precondition(applies(g), "ChannelsLastMaxPool: unsupported geometry \(g)")
        var s = shape(g)
        let inImage = g.channels * g.inHeight * g.inWidth, outImage = g.channels * g.outHeight * g.outWidth
        splitBatch(g, threads: threads) { first, count in
            tarsier_max_pool_nhwc_backward(&s, count, argmax + first * outImage,
                                           destinationGradient + first * outImage,
                                           sourceGradient + first * inImage)
        }
    }
}
