import TarsierCore
import TarsierSupport

/// The global random stream used by layer initialisers and dropout, as `torch.manual_seed`.
public enum RandomState {
    nonisolated(unsafe) private static var generator = SeededGenerator(seed: 0)
    private static let lock = SpinLock()

    /// Reseeds the global stream.
    public static func seed(_ seed: UInt64) { lock.withLock { generator = SeededGenerator(seed: seed) } }

    /// Runs `body` with exclusive access to the global stream.
    public static func with<R>(_ body: (inout SeededGenerator) -> R) -> R {
        lock.withLock { body(&generator) }
    }

    /// The stream's state (for checkpoints).
    public static var state: SeededGenerator {
        get { lock.withLock { generator } }
        set { lock.withLock { generator = newValue } }
    }
}

/// Weight initialisers with PyTorch's definitions.
public enum Initializer {
    /// U(-bound, bound).
    public static func uniform(_ shape: [Int], bound: Double) -> Tensor {
        RandomState.with { Tensor.uniform(shape, low: -bound, high: bound, generator: &$0) }
    }

    /// PyTorch's default for Conv and Linear weights: kaiming_uniform_(a=√5), i.e. bound 1/√fan_in.
    public static func pytorchDefault(_ shape: [Int], fanIn: Int) -> Tensor {
        uniform(shape, bound: 1 / Double(Swift.max(fanIn, 1)).squareRoot())
    }

    /// kaiming_normal_(mode, nonlinearity relu): N(0, 2/fan).
    public static func kaimingNormal(_ shape: [Int], fan: Int) -> Tensor {
        let std = (2 / Double(Swift.max(fan, 1))).squareRoot()
        return RandomState.with { Tensor.normal(shape, standardDeviation: std, generator: &$0) }
    }
}
