import CDNNL

/// How a 4-D activation `[N, C, H, W]` lies in memory.
public enum ActivationLayout: Hashable, Sendable {
    /// NCHW, PyTorch's default.
    case rowMajor
    /// NHWC, PyTorch's `channels_last`.
    case channelsLast
    /// oneDNN's nChw16c: `[N, C / 16, H, W, 16]`, sixteen channels innermost. Its AVX-512
    /// kernels (Winograd among them) run on it natively, so activations kept this way between
    /// layers need no conversion around each convolution. `C` must be a multiple of 16.
    case channelBlocked

    /// Channels per block of `channelBlocked`.
    public static let channelBlock = 16

    /// The oneDNN format tag of a 4-D activation in this layout.
    var tag: dnnl_format_tag_t {
        switch self {
        case .rowMajor: return dnnl_nchw
        case .channelsLast: return dnnl_nhwc
        case .channelBlocked: return dnnl_nChw16c
        }
    }
}
