import CDNNL
import CTarsierKernels

/// A reorder between channels-last (NHWC) and oneDNN's nChw16c Float32 activations with whole
/// 16-channel blocks, run as plain copies of 64-byte rows split over the OpenMP team instead of
/// oneDNN's reorder primitive. Winograd convolutions need the blocked layout, so a channels-last
/// network reorders every input and output of them; at batch 1 ResNet-18 (224 px) inference
/// ran 0.2-0.4 ms faster per image this way (of about 12 ms), alternating in one process.
struct ChannelBlockReorder {
    let images: Int, channels: Int, pixels: Int
    /// nhwc -> nChw16c; false for the reverse.
    let toBlocked: Bool

    /// The reorder from `source` to `destination`, or nil unless they are exactly a dense
    /// Float32 NHWC and nChw16c layout of the same 4-D shape with channels a multiple of 16.
    init?(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t) {
        guard source.ndims == 4, source.data_type == dnnl_f32, destination.data_type == dnnl_f32 else { return nil }
        let dims = [source.dims.0, source.dims.1, source.dims.2, source.dims.3].map { Int($0) }
        guard dims[1] % 16 == 0, dims.allSatisfy({ $0 > 0 }) else { return nil }
        let context = DNNLContext.shared
        var nhwc = context.desc(dims, dnnl_nhwc), blocked = context.desc(dims, dnnl_nChw16c)
        var source = source, destination = destination
        if dnnl_memory_desc_equal(&source, &nhwc) != 0 && dnnl_memory_desc_equal(&destination, &blocked) != 0 {
            toBlocked = true
        } else if dnnl_memory_desc_equal(&source, &blocked) != 0 && dnnl_memory_desc_equal(&destination, &nhwc) != 0 {
            toBlocked = false
        } else {
            return nil
        }
        (images, channels, pixels) = (dims[0], dims[1], dims[2] * dims[3])
    }

    /// Rows (pixels of all images) per thread below which one thread does it all.
    static let rowsPerThread = 64

    func run(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer) {
        let rows = images * pixels
        let team = Swift.max(1, Swift.min(DNNL.threadCount, rows / Self.rowsPerThread))
        let from = source.assumingMemoryBound(to: Float.self)
        let to = destination.assumingMemoryBound(to: Float.self)
        OpenMP.parallel(threads: team) { part, parts in
            tarsier_copy_channel_blocks(from, to, channels, pixels, part * rows / parts,
                                        (part + 1) * rows / parts, toBlocked ? 1 : 0)
        }
    }
}
