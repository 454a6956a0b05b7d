import CTarsierKernels

/// Float32 conversions between NCHW and NHWC as one tiled transpose per image, split over the
/// OpenMP team. The generic strided copy had run one closure call per three-element row when
/// turning a 3-channel image channels-last.
public enum ImageTranspose {
    /// Fewest elements worth a second thread.
    static let elementsPerThread = 1 << 15

    /// Writes each of `planes` row-major `rows x columns` matrices of `from` transposed into `to`
    /// (`to[p][c][r] = from[p][r][c]`); `from` and `to` must not overlap.
    public static func transpose(_ from: UnsafePointer<Float>, planes: Int, rows: Int, columns: Int,
                                 into to: UnsafeMutablePointer<Float>) {
        let team = Swift.max(1, Swift.min(DNNL.threadCount, planes * rows * columns / elementsPerThread, columns))
        OpenMP.parallel(threads: team) { part, parts in
            tarsier_transpose_planes(from, planes, rows, columns, part * columns / parts,
                                     (part + 1) * columns / parts, to)
        }
    }
}
