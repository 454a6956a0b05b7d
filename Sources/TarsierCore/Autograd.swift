/// A node of the autodiff tape: either a leaf that accumulates a gradient (a parameter, or an
/// input marked with `requiringGrad()`), or the record of an operation and its inputs.
public final class GradNode: @unchecked Sendable {
    /// Creation order; a node is always created after its inputs, so ids sort the graph.
    let id: Int
    /// Nodes of the inputs that require gradients, aligned with the backward function's outputs.
    let inputs: [GradNode?]
    /// Maps the gradient of the result to gradients of the inputs (nil where not needed).
    let backwardFunction: ((Tensor) -> [Tensor?])?
    /// For leaves: the accumulated gradient.
    public internal(set) var grad: Tensor?
    /// For leaves: whether operations record this input. Freezing a parameter turns this off.
    public var requiresGrad: Bool

    /// True for leaves (no recorded operation).
    public var isLeaf: Bool { backwardFunction == nil }

    init(inputs: [GradNode?], backward: ((Tensor) -> [Tensor?])?) {
        id = GradNode.nextIdentifier()
        self.inputs = inputs
        backwardFunction = backward
        requiresGrad = true
    }

    nonisolated(unsafe) private static var counter = 0
    private static let counterLock = SpinLock()
    private static func nextIdentifier() -> Int {
        counterLock.withLock { counter += 1; return counter }
    }

    /// Clears the accumulated gradient of a leaf.
    public func zeroGrad() { grad = nil }

    /// Adds `gradient` into this leaf's gradient.
    public func accumulate(_ gradient: Tensor) {
        if let g = grad { grad = Autograd.withNoGrad { g + gradient } } else { grad = gradient }
    }
}

/// A pthread mutex for short critical sections (no Foundation dependency).
public final class SpinLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    /// Runs `body` holding the lock.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Gradient recording: on by default, off inside `withNoGrad` (evaluation, optimiser updates).
public enum Autograd {
    /// Whether operations record their inputs on the current thread.
    public static var isRecording: Bool {
        get { (pthread_getspecific(recordingKey) == nil) }
        set { pthread_setspecific(recordingKey, newValue ? nil : disabledMarker) }
    }

    private static let recordingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    nonisolated(unsafe) private static let disabledMarker = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    /// Runs `body` without recording operations for autodiff.
    public static func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isRecording
        isRecording = false
        defer { isRecording = previous }
        return try body()
    }

    /// Attaches a backward function to `result` when recording is on and an input requires grad.
    @inline(__always)
    public static func record(_ result: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard isRecording else { return result }
        var any = false
        let nodes: [GradNode?] = inputs.map { t in
            guard let node = t.gradNode, node.requiresGrad else { return nil }
            any = true
            return node
        }
        guard any else { return result }
        var out = result
        out.gradNode = GradNode(inputs: nodes, backward: backward)
        return out
    }

    /// Propagates `seed` (the gradient of `root`'s tensor) to every reachable leaf.
    static func backward(from root: GradNode, seed: Tensor) {
        var order: [GradNode] = []
        var seen = Set<ObjectIdentifier>()
        var stack = [root]
        while let node = stack.popLast() {
            guard seen.insert(ObjectIdentifier(node)).inserted else { continue }
            order.append(node)
            for case let input? in node.inputs { stack.append(input) }
        }
        order.sort { $0.id > $1.id }
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        withNoGrad {
            for node in order {
                guard let gradient = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
                guard let backwardFunction = node.backwardFunction else {
                    if node.requiresGrad { node.accumulate(gradient) }
                    continue
                }
                let inputGradients = backwardFunction(gradient)
                for (input, g) in zip(node.inputs, inputGradients) {
                    guard let input, let g else { continue }
                    let key = ObjectIdentifier(input)
                    if let existing = pending[key] { pending[key] = existing + g } else { pending[key] = g }
                }
            }
        }
    }
}

extension Tensor {
    /// True when operations on this tensor are recorded for autodiff.
    public var requiresGrad: Bool { gradNode?.requiresGrad ?? false }

    /// This tensor as a leaf that accumulates gradients (as `requires_grad_()` in PyTorch).
    public func requiringGrad() -> Tensor {
        var t = self
        t.gradNode = GradNode(inputs: [], backward: nil)
        return t
    }

    /// The gradient accumulated by `backward()` for a leaf; nil before any backward pass.
    public var grad: Tensor? { gradNode?.grad }

    /// Back-propagates from this tensor. A scalar uses the seed 1; otherwise pass `gradient`.
    public func backward(gradient: Tensor? = nil) {
        guard let node = gradNode else {
            preconditionFailure("backward() on a tensor that does not require grad (shape \(shape))")
        }
        let seed = gradient ?? {
            precondition(count == 1, "backward() without a gradient needs a scalar, shape is \(shape)")
            return Tensor(repeating: 1, shape: shape, dtype: dtype, device: device)
        }()
        Autograd.backward(from: node, seed: seed)
    }
}
