import TarsierCPU

/// Element-wise operations of one input.
public enum UnaryOp: Sendable, Equatable {
    case negate, exp, log, sqrt, abs, square, reciprocal
    case relu, sigmoid, tanh, gelu
    case leakyRelu(slope: Double)
    case scale(Double)
    case addScalar(Double)
    case powScalar(Double)
    case clamp(min: Double, max: Double)
}

/// Element-wise operations of two broadcast inputs `a` and `b`.
///
/// The `…Backward` cases fuse an activation's derivative: `a` is the saved forward value
/// (input for ReLU/LeakyReLU/GELU, output for sigmoid/tanh) and `b` the upstream gradient.
public enum BinaryOp: Sendable, Equatable {
    case add, subtract, multiply, divide, maximum, minimum, power
    /// ReLU of the sum, `a + b > 0 ? a + b : 0`, in one pass (a residual connection's add and
    /// the ReLU after it).
    case addReLU
    /// 1 where a == b, else 0 (routes gradients of max reductions).
    case equalMask
    case reluBackward, sigmoidBackward, tanhBackward, geluBackward
    case leakyReluBackward(slope: Double)
}

/// Reductions over a set of axes (results keep reduced axes with size 1).
public enum ReduceOp: Sendable, Equatable {
    case sum, max, min
}

/// State saved by max pooling for its backward pass.
public protocol MaxPoolSavedState: AnyObject {}

/// What a backend keeps from a fused batch norm + ReLU for its backward pass (which outputs
/// the ReLU zeroed).
public protocol BatchNormReLUSavedState: AnyObject {}

/// The primitive kernels a device provides. Inputs are contiguous at offset 0 (or channels-last
/// where `prefersChannelsLast`); results are new dense tensors on the same device. Autodiff lives above this layer, in `Tensor`.
public protocol Backend: AnyObject {
    /// A short name for messages.
    var name: String { get }
    /// True when convolution, pooling and batch norm accept and return channels-last tensors;
    /// otherwise every input reaches the backend row-major.
    var prefersChannelsLast: Bool { get }
    /// True when the channel-blocked inference kernels run natively, so that activations kept
    /// channel-blocked between layers save work (see `Tensor.channelBlocked()`).
    var prefersChannelBlocked: Bool { get }
    /// Applies `op` element-wise.
    func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor
    /// Applies `op` element-wise with NumPy broadcasting into `outputShape`.
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, outputShape: [Int]) -> Tensor
    /// Reduces over `axes`, keeping them with size 1.
    func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int]) -> Tensor
    /// Index of the largest element along `axis` for each position of the other axes.
    func argmax(_ x: Tensor, axis: Int) -> [Int]
    /// op(a) x op(b) for rank-2 `a` and `b`.
    func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor
    /// Softmax (or log-softmax) over the last axis.
    func softmax(_ x: Tensor, log: Bool) -> Tensor
    /// Gradient of softmax (or log-softmax) given its output `y` and upstream gradient.
    func softmaxBackward(output y: Tensor, gradient: Tensor, log: Bool) -> Tensor
    /// 2-D convolution of NCHW `x` with OIHW `weight`, followed by ReLU when `relu` is true.
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, relu: Bool) -> Tensor
    /// Gradient of conv2d with respect to its input.
    func conv2dBackwardData(_ gradient: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor
    /// Gradients of conv2d with respect to weight and (when `withBias`) bias.
    func conv2dBackwardWeights(_ x: Tensor, gradient: Tensor, geometry: ConvGeometry,
                               withBias: Bool) -> (weight: Tensor, bias: Tensor?)
    /// Inference convolution into a channel-blocked result (`[N, O/16, H, W, 16]`, see
    /// `Tensor.channelBlocked()`); `x` is channel-blocked or a dense 4-D tensor. With `residual`
    /// (channel-blocked, the result's shape), it is added before the ReLU, and the backend may
    /// write the result over `residual`'s storage.
    func channelBlockedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, relu: Bool,
                              residual: Tensor?) -> Tensor
    /// Inference max pooling of a channel-blocked tensor into a channel-blocked result.
    func channelBlockedMaxPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor
    /// Max pooling; the saved state is nil when `training` is false.
    func maxPool2d(_ x: Tensor, geometry: PoolGeometry, training: Bool) -> (Tensor, MaxPoolSavedState?)
    /// Gradient of max pooling.
    func maxPool2dBackward(_ gradient: Tensor, saved: MaxPoolSavedState, geometry: PoolGeometry) -> Tensor
    /// Average pooling.
    func avgPool2d(_ x: Tensor, geometry: PoolGeometry) -> Tensor
    /// Gradient of average pooling.
    func avgPool2dBackward(_ gradient: Tensor, geometry: PoolGeometry) -> Tensor
    /// Batch norm with batch statistics over N and spatial axes of [N, C, spatial…]; returns the
    /// output, the batch mean and the biased batch variance.
    func batchNormTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor)
    /// Batch norm with given statistics.
    func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                            epsilon: Double) -> Tensor
    /// Gradients of training-mode batch norm.
    func batchNormBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                           epsilon: Double) -> (input: Tensor, scale: Tensor, shift: Tensor)
    /// Training-mode batch norm followed by ReLU, in one pass where the backend can.
    func batchNormReLUTraining(_ x: Tensor, scale: Tensor, shift: Tensor, epsilon: Double)
        -> (output: Tensor, mean: Tensor, variance: Tensor, saved: BatchNormReLUSavedState)
    /// Gradients of `batchNormReLUTraining` with respect to its input, scale and shift.
    func batchNormReLUBackward(_ x: Tensor, gradient: Tensor, scale: Tensor, mean: Tensor, variance: Tensor,
                               epsilon: Double, saved: BatchNormReLUSavedState)
        -> (input: Tensor, scale: Tensor, shift: Tensor)
}
