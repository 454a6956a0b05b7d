import CDNNL
import CTarsierKernels

/// The weight gradient of a bf16 convolution on small images (outputs from 3x3 to under 7x7), as one AMX
/// matrix product over the lowered (im2col) source: `dW[out, tap, in] = dYᵀ · lowered(X)`, with
/// both operands rounded to bf16 and the product accumulated in Float32.
///
/// oneDNN 2.6's own bf16 backward-weights kernels were slower than its Float32 ones on small
/// images, and the Float32 ones are far from the AMX units' speed: for resnet9s at batch 256, a
/// 128-channel layer on 3x3 images took 4.0 ms (Float32 direct); the product here took about
/// 1.5-1.8 ms and lowering the source 0.2 ms. The lowered rows are one per output pixel, so the
/// product's inner dimension is the batch times the pixels. Of the four ways to orient the
/// product, `dYᵀ · lowered(X)` with the destination gradient transposed in the rounding pass
/// was among the fastest and needs no transposed copy of the large operand.
enum LoweredWeightGradient {
    /// Output pixels per image below which the lowered product runs (7x7). At 7x7 it was slower
    /// than Float32 Winograd with its layout copies: a resnet9s training step at batch 256 took
    /// 101.5 against 96.5 ms with its three 7x7 layers lowered (alternating in one process).
    static let outputPixelLimit = 49

    /// Whether `g`'s weight gradient runs here when it is computed in bf16: ungrouped,
    /// channels-last, outputs under `outputPixelLimit` per image, and larger than the images
    /// `SmallImageConv` takes in Float32. On those (1x1, 2x2) most lowered columns would be
    /// padding: a 512-channel layer on 1x1 took 3.8-5.8 ms here against its 1.0-1.3 ms.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.groups == 1 && g.channelsLast && g.outHeight * g.outWidth < outputPixelLimit
            && !SmallImageConv.applies(g, bfloat16: false)
    }

    static func backwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                destinationGradient: UnsafePointer<Float>,
                                weightGradient: UnsafeMutablePointer<Float>,
                                biasGradient: UnsafeMutablePointer<Float>?) {
        precondition(applies(g), "LoweredWeightGradient: unsupported geometry \(g)")
        let rows = g.batch * g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        let columns = taps * g.inChannels
        let alignment = StagingBuffer.alignment
        func aligned(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
        let loweredBytes = aligned(rows * columns * 2), gradientBytes = aligned(rows * g.outChannels * 2)
        let productBytes = aligned(columns * g.outChannels * 4)
        var shape = tarsier_conv_shape(
            channels: g.inChannels, in_height: g.inHeight, in_width: g.inWidth,
            out_height: g.outHeight, out_width: g.outWidth,
            kernel_height: g.kernelHeight, kernel_width: g.kernelWidth,
            stride_height: g.strideHeight, stride_width: g.strideWidth,
            pad_height: g.padHeight, pad_width: g.padWidth,
            dilation_height: g.dilationHeight, dilation_width: g.dilationWidth)
        let plan = MatmulPlans.bfloat16(m: g.outChannels, n: columns, k: rows)
        StagingBuffer.shared.with(bytes: loweredBytes + gradientBytes + productBytes) { scratch in
            let lowered = scratch.assumingMemoryBound(to: UInt16.self)
            let gradient = (scratch + loweredBytes).assumingMemoryBound(to: UInt16.self)
            let product = (scratch + loweredBytes + gradientBytes).assumingMemoryBound(to: Float.self)
            OpenMP.parallel(threads: DNNL.threadCount) { part, parts in
                let begin = part * rows / parts, end = (part + 1) * rows / parts
                tarsier_lower_source_bf16(&shape, source, begin, end, lowered)
                tarsier_transpose_to_bf16(destinationGradient, rows, g.outChannels, begin, end, gradient)
            }
            plan.execute([(DNNL_ARG_SRC, UnsafeMutableRawPointer(gradient)),
                          (DNNL_ARG_WEIGHTS, UnsafeMutableRawPointer(lowered)),
                          (DNNL_ARG_DST, UnsafeMutableRawPointer(product))])
            tarsier_weight_from_tap_columns(product, taps, g.inChannels, 0, g.outChannels, weightGradient)
        }
        if let biasGradient {
            sumPixels(destinationGradient, pixels: rows, channels: g.outChannels, into: biasGradient)
        }
    }
}

/// Cached oneDNN matrix-product plans.
enum MatmulPlans {
    /// `C = A · B` in bf16 with Float32 results: `A` is `[m, k]`, `B` `[k, n]` (both bf16) and `C`
    /// `[m, n]` (Float32), all row-major. Arguments: `DNNL_ARG_SRC` (A), `DNNL_ARG_WEIGHTS` (B),
    /// `DNNL_ARG_DST` (C).
    static func bfloat16(m: Int, n: Int, k: Int) -> Plan {
        DNNLContext.shared.plan(.bfloat16Matmul(m: m, n: n, k: k)) {
            let context = DNNLContext.shared
            var a = context.desc([m, k], dnnl_ab, dnnl_bf16)
            var b = context.desc([k, n], dnnl_ab, dnnl_bf16)
            var c = context.desc([m, n], dnnl_ab)
            var op = dnnl_matmul_desc_t()
            dnnlCheck(dnnl_matmul_desc_init(&op, &a, &b, nil, &c), "matmul_desc_init (m \(m), n \(n), k \(k))")
            let pd = context.primitiveDesc(&op, "matmul (m \(m), n \(n), k \(k))")
            defer { dnnl_primitive_desc_destroy(pd) }
            return Plan("bf16 matmul (m \(m), n \(n), k \(k)) [\(context.implementation(pd))]", pd: pd,
                        edges: [(DNNL_ARG_SRC, Edge(.input, plain: a, "matmul A")),
                                (DNNL_ARG_WEIGHTS, Edge(.input, plain: b, "matmul B")),
                                (DNNL_ARG_DST, Edge(.output, plain: c, "matmul C"))])
        }
    }
}
