import Synchronization
import TarsierCore

/// Inference on channel-blocked activations (see `Tensor.channelBlocked()`). Models with such a
/// path (ResNet, VGG, and any `Sequential` whose layers all have a channel-blocked form) take it
/// in evaluation mode without gradient recording, on a backend that prefers it (the CPU):
/// activations then stay in oneDNN's blocked layout from the first convolution on, with no
/// conversion around each kernel. The results match the other path to Float32 rounding.
public enum ChannelBlockedInference {
    /// Whether models take the path where it applies (default on).
    public static var isEnabled: Bool {
        get { setting.load(ordering: .relaxed) }
        set { setting.store(newValue, ordering: .relaxed) }
    }
    private static let setting = Atomic<Bool>(true)

    /// Whether a model's input `x` may enter the path: it is enabled, nothing is recorded, and
    /// `x` is a Float32 `[N, C, H, W]` batch on a backend that prefers the layout.
    public static func applies(to x: Tensor) -> Bool {
        isEnabled && !Autograd.isRecording && x.dtype == .float32 && x.rank == 4
            && x.device.backend.prefersChannelBlocked
    }
}

extension Conv2d {
    /// Whether this convolution runs on channel-blocked activations: evaluating, groups 1, and a
    /// multiple of 16 output channels.
    public var hasChannelBlockedForm: Bool {
        !isTraining && groups == 1 && outputChannels % Tensor.channelBlock == 0
    }

    /// The convolution, then ReLU, on channel-blocked activations (inference only).
    /// - Parameters:
    ///   - x: Channel-blocked, or a dense `[N, C, H, W]` batch entering the network.
    ///   - relu: Whether a ReLU follows.
    /// - Returns: The channel-blocked result.
    /// - Throws: `ShapeError` when `x` does not fit this layer.
    public func channelBlocked(_ x: Tensor, relu: Bool = false) throws -> Tensor {
        precondition(!isTraining && !Autograd.isRecording,
                     "\(layerDescription): channel-blocked inference needs evaluation mode without gradient recording")
        try checkInput(x)
        guard hasChannelBlockedForm else {
            throw ShapeError("\(layerDescription): channel-blocked inference needs groups 1 and a multiple of "
                             + "\(Tensor.channelBlock) output channels")
        }
        return x.channelBlockedConv2d(weight: weight, bias: bias, stride: stride, padding: padding,
                                      dilation: dilation, relu: relu)
    }
}

extension Sequential {
    /// Whether `channelBlockedForward` covers every layer: the first is a convolution, and each is
    /// in evaluation mode and one of a convolution with a channel-blocked form (followed by its
    /// batch norm or not), a ReLU, a max pool without ceil mode, or dropout.
    public var hasChannelBlockedForm: Bool { !layers.isEmpty && layerWithoutChannelBlockedForm == nil }

    /// The first layer that keeps the stack off the channel-blocked path, with its index.
    private var layerWithoutChannelBlockedForm: (index: Int, layer: Module)? {
        for (index, layer) in layers.enumerated() {
            let covered: Bool
            switch layer {
            case _ where layer.isTraining || (index == 0 && !(layer is Conv2d)):
                covered = false
            case let conv as Conv2d:
                let batchNorm = layers.dropFirst(index + 1).first as? BatchNorm
                covered = conv.hasChannelBlockedForm
                    && (batchNorm.map { $0.featureCount == conv.outputChannels } ?? true)
            case is BatchNorm:
                covered = layers[index - 1] is Conv2d
            case let pool as MaxPool2d:
                covered = !pool.ceilMode
            case is ReLU, is Dropout:
                covered = true
            default:
                covered = false
            }
            if !covered { return (index, layer) }
        }
        return nil
    }

    /// `forward(x)`, run channel-blocked inside and unblocked at the end where
    /// `ChannelBlockedInference` applies and every layer has a channel-blocked form: for the
    /// convolutional part of a model (VGG's and AlexNet's `features`).
    public func forwardChannelBlockedWhereItApplies(_ x: Tensor) throws -> Tensor {
        guard ChannelBlockedInference.applies(to: x), !isTraining, hasChannelBlockedForm else {
            return try forward(x)
        }
        return try runChannelBlocked(x).channelUnblocked()
    }

    /// `forward` on channel-blocked activations (see `hasChannelBlockedForm`): the input is
    /// channel-blocked or a dense `[N, C, H, W]` batch, the result channel-blocked.
    /// - Throws: `ShapeError` when the input does not fit a layer, or naming the first layer
    ///   without a channel-blocked form (run `forward(_:)` on such a stack instead).
    public func channelBlockedForward(_ x: Tensor) throws -> Tensor {
        if let (index, layer) = layerWithoutChannelBlockedForm {
            throw ShapeError("\(layerDescription): layer \(index), \(layer.layerDescription)"
                             + "\(layer.isTraining ? " in training mode" : ""), has no channel-blocked form "
                             + "(the first must be a convolution; then convolutions with a multiple of 16 "
                             + "outputs, their batch norms, ReLUs, max pools without ceil mode, dropout); "
                             + "use forward(_:)")
        }
        guard !isTraining, !layers.isEmpty else {
            throw ShapeError("\(layerDescription): channel-blocked inference needs a non-empty stack in "
                             + "evaluation mode; call eval()")
        }
        return try runChannelBlocked(x)
    }

    /// `channelBlockedForward` without the checks.
    private func runChannelBlocked(_ x: Tensor) throws -> Tensor {
        var y = x
        var index = 0
        while index < layers.count {
            let followedByReLU = { (offset: Int) in
                index + offset < self.layers.count && self.layers[index + offset] is ReLU
            }
            switch layers[index] {
            case let conv as Conv2d:
                if index + 1 < layers.count, let batchNorm = layers[index + 1] as? BatchNorm {
                    y = try conv.channelBlocked(y, batchNorm: batchNorm, relu: followedByReLU(2))
                    index += followedByReLU(2) ? 3 : 2
                } else {
                    y = try conv.channelBlocked(y, relu: followedByReLU(1))
                    index += followedByReLU(1) ? 2 : 1
                }
            case let pool as MaxPool2d:
                guard y.shape[2] + 2 * pool.padding >= pool.kernelSize,
                      y.shape[3] + 2 * pool.padding >= pool.kernelSize else {
                    throw ShapeError("\(pool.layerDescription): input \(y.shape) is smaller than the window")
                }
                y = y.channelBlockedMaxPool2d(kernel: (pool.kernelSize, pool.kernelSize),
                                              stride: (pool.stride, pool.stride),
                                              padding: (pool.padding, pool.padding))
                index += 1
            case is ReLU:
                y = y.relu()
                index += 1
            default:
                // Dropout in evaluation (and a batch norm consumed above) passes values through.
                index += 1
            }
        }
        return y
    }
}
