import TarsierCore

/// Updates parameters in place from their accumulated gradients.
///
/// Conforming types keep their hyper-parameters in `groups`; learning-rate schedules write each
/// group's `learningRate` (see `Scheduler`). `OptimizerBase` implements everything but the
/// per-parameter update, which is all `SGD`, `Adam` and `AdamW` define.
public protocol Optimizer: AnyObject {
    /// The parameter groups and their (mutable) hyper-parameters.
    var groups: [ParameterGroup] { get set }
    /// The number of `step()` calls made, restored by `loadStateDict(_:)`.
    var stepCount: Int { get }
    /// Applies one update to every parameter that has a gradient.
    func step()
    /// Clears the accumulated gradient of every parameter (PyTorch's `set_to_none=True`).
    func zeroGrad()
    /// The optimizer's state (moment buffers, step counts) for a checkpoint.
    func stateDict() -> OptimizerState
    /// Restores state saved by `stateDict()` for the same parameters in the same order.
    /// - Throws: `OptimizerStateError` when a key, size or buffer name does not fit.
    func loadStateDict(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Every parameter of every group, in group order.
    public var allParameters: [Tensor] { groups.flatMap(\.parameters) }
}

/// The state one parameter accumulates across steps: its update count and named buffers, each
/// with the parameter's element type and count.
public final class ParameterState {
    /// The number of updates applied to this parameter (PyTorch keeps it per parameter: a step
    /// in which the parameter has no gradient does not count).
    public internal(set) var step: Int = 0
    /// The buffers by name (`momentum_buffer`, `exp_avg`, ...), created on first use.
    public internal(set) var buffers: [String: TensorStorage] = [:]

    /// Creates an empty state.
    public init() {}

    /// The buffer named `name`, or nil before it was created.
    public func buffer(named name: String) -> TensorStorage? { buffers[name] }

    /// The buffer named `name`, created zero-filled with `dtype` and `count` on first use.
    public func zeroedBuffer(named name: String, dtype: DType, count: Int) -> TensorStorage {
        if let existing = buffers[name], existing.dtype == dtype, existing.count == count { return existing }
        let created = TensorStorage(dtype: dtype, count: count)
        buffers[name] = created
        return created
    }

    /// Stores `storage` as the buffer named `name`.
    public func setBuffer(_ storage: TensorStorage, named name: String) { buffers[name] = storage }
}

/// Everything one per-parameter update needs; `OptimizerBase.update(_:)` receives it.
///
/// The parameter and gradient are contiguous with the same element type and count, so a
/// subclass can run a plain pointer loop over `count` elements.
public struct ParameterUpdate {
    /// The group's index in `groups`.
    public let groupIndex: Int
    /// The parameter's index within its group.
    public let parameterIndex: Int
    /// The parameter, updated in place (its storage is shared with the module that owns it).
    public let parameter: Tensor
    /// The gradient, contiguous, with the parameter's element type.
    public let gradient: Tensor
    /// The parameter's state; `state.step` already counts this update.
    public let state: ParameterState
    /// The group's learning rate.
    public let learningRate: Double
    /// The group's weight decay.
    public let weightDecay: Double
    /// The group's momentum (or Adam's beta1) override, when a schedule set one.
    public let momentum: Double?

    /// The number of elements.
    public var count: Int { parameter.count }
    /// The element type of the parameter, gradient and state buffers.
    public var dtype: DType { parameter.dtype }

    /// The parameter's first element, typed as `T` (which must match `dtype`); the storage is
    /// marked as changing (see `TensorStorage.noteMutation`).
    @inline(__always) public func parameterPointer<T: KernelScalar>(as type: T.Type) -> UnsafeMutablePointer<T> {
        parameter.storage.noteMutation()
        return parameter.storage.pointer(as: type) + parameter.offset
    }

    /// The gradient's first element, typed as `T` (which must match `dtype`).
    @inline(__always) public func gradientPointer<T: KernelScalar>(as type: T.Type) -> UnsafePointer<T> {
        UnsafePointer(gradient.storage.pointer(as: type) + gradient.offset)
    }

    /// A zero-filled state buffer named `name`, created on first use, typed as `T`.
    @inline(__always) public func zeroedBuffer<T: KernelScalar>(named name: String, as type: T.Type)
        -> UnsafeMutablePointer<T> {
        state.zeroedBuffer(named: name, dtype: dtype, count: count).pointer(as: type)
    }
}

/// The base of the optimizers: groups, the step loop, gradients and checkpoints. Subclasses
/// override `update(_:)`, the update of one parameter, and list their buffers in
/// `stateBufferNames`.
open class OptimizerBase: Optimizer {
    /// The parameter groups; a group's `nil` values were replaced by the defaults on adoption.
    public var groups: [ParameterGroup]
    /// The learning rate groups inherit when they do not set one.
    public let defaultLearningRate: Double
    /// The weight decay groups inherit when they do not set one.
    public let defaultWeightDecay: Double
    /// The number of `step()` calls made.
    public private(set) var stepCount: Int = 0
    /// Per group, per parameter state, aligned with `groups`.
    private var states: [[ParameterState]] = []

    /// Creates an optimizer over `groups`, resolving their unset values from the defaults.
    /// - Parameters:
    ///   - groups: The parameter groups.
    ///   - learningRate: The default learning rate.
    ///   - weightDecay: The default weight decay.
    public init(groups: [ParameterGroup], learningRate: Double, weightDecay: Double) {
        precondition(learningRate >= 0 && learningRate.isFinite, "invalid learning rate \(learningRate)")
        precondition(weightDecay >= 0 && weightDecay.isFinite, "invalid weight decay \(weightDecay)")
        defaultLearningRate = learningRate
        defaultWeightDecay = weightDecay
        self.groups = []
        for group in groups { addGroup(group) }
    }

    /// Adopts another group (for example the unfrozen backbone during fine-tuning).
    public func addGroup(_ group: ParameterGroup) {
        var resolved = group
        resolved.learningRate = group.learningRate ?? defaultLearningRate
        resolved.baseLearningRate = group.baseLearningRate ?? resolved.learningRate
        resolved.weightDecay = group.weightDecay ?? defaultWeightDecay
        for (i, p) in group.parameters.enumerated() {
            precondition(p.isContiguous, "group '\(group.name)' parameter \(i): optimizers update contiguous tensors "
                + "in place, got strides \(p.strides) for shape \(p.shape)")
        }
        groups.append(resolved)
        states.append(group.parameters.map { _ in ParameterState() })
    }

    /// The buffer names this optimizer keeps per parameter; `loadStateDict` accepts only these.
    open var stateBufferNames: [String] { [] }

    /// Updates one parameter in place. Subclasses must override this.
    open func update(_ update: ParameterUpdate) {
        preconditionFailure("\(type(of: self)) must override update(_:)")
    }

    /// Applies one update to every parameter that requires grad and has a gradient.
    public func step() {
        stepCount += 1
        Autograd.withNoGrad {
            for g in groups.indices {
                let group = groups[g]
                syncStates(group: g)
                let lr = group.learningRate ?? defaultLearningRate
                let wd = group.weightDecay ?? defaultWeightDecay
                for (i, parameter) in group.parameters.enumerated() {
                    guard parameter.requiresGrad, let raw = parameter.grad else { continue }
                    precondition(raw.count == parameter.count,
                                 "group '\(group.name)' parameter \(i): gradient shape \(raw.shape) "
                                     + "does not match parameter shape \(parameter.shape)")
                    let gradient = (raw.dtype == parameter.dtype ? raw : raw.cast(to: parameter.dtype)).contiguous()
                    let state = states[g][i]
                    state.step += 1
                    update(ParameterUpdate(groupIndex: g, parameterIndex: i, parameter: parameter,
                                           gradient: gradient, state: state, learningRate: lr,
                                           weightDecay: wd, momentum: group.momentum))
                }
            }
        }
    }

    /// Clears the gradient of every parameter.
    public func zeroGrad() {
        for group in groups { for p in group.parameters { p.gradNode?.zeroGrad() } }
    }

    /// Keeps the state list aligned when a caller edited a group's parameter list.
    private func syncStates(group g: Int) {
        let n = groups[g].parameters.count
        if states[g].count != n { states[g] = (0..<n).map { _ in ParameterState() } }
    }

    /// The state of parameter `index` in group `group` (for inspection and tests).
    public func state(group: Int, index: Int) -> ParameterState {
        syncStates(group: group)
        return states[group][index]
    }

    /// The buffers keyed `"<group>.<index>.<name>"`, the per-parameter steps keyed
    /// `"<group>.<index>"`, and the step count.
    public func stateDict() -> OptimizerState {
        var result = OptimizerState(stepCount: stepCount)
        for g in groups.indices {
            syncStates(group: g)
            for (i, state) in states[g].enumerated() {
                if state.step > 0 { result.parameterSteps["\(g).\(i)"] = state.step }
                for (name, storage) in state.buffers {
                    result.buffers["\(g).\(i).\(name)"] = StateBuffer(copying: storage)
                }
            }
        }
        return result
    }

    /// Replaces all state with `state`, validating every key and size first.
    public func loadStateDict(_ state: OptimizerState) throws {
        let known = Set(stateBufferNames)
        let fresh: [[ParameterState]] = groups.map { $0.parameters.map { _ in ParameterState() } }
        func locate(_ key: String, parts: ArraySlice<Substring>) throws -> (Int, Int) {
            guard parts.count == 2, let g = Int(parts[parts.startIndex]), let i = Int(parts[parts.startIndex + 1]) else {
                throw OptimizerStateError("key '\(key)' is not '<group>.<index>[.<buffer>]'")
            }
            guard g >= 0, g < groups.count else {
                throw OptimizerStateError("key '\(key)' names group \(g), the optimizer has \(groups.count)")
            }
            guard i >= 0, i < groups[g].parameters.count else {
                throw OptimizerStateError("key '\(key)' names parameter \(i) of group \(g) ('\(groups[g].name)'), "
                    + "which has \(groups[g].parameters.count)")
            }
            return (g, i)
        }
        for (key, step) in state.parameterSteps {
            let (g, i) = try locate(key, parts: key.split(separator: ".", omittingEmptySubsequences: false)[...])
            guard step >= 0 else { throw OptimizerStateError("key '\(key)' has negative step \(step)") }
            fresh[g][i].step = step
        }
        for (key, buffer) in state.buffers {
            let parts = key.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else {
                throw OptimizerStateError("key '\(key)' is not '<group>.<index>.<buffer>'")
            }
            let (g, i) = try locate(key, parts: parts[0..<2])
            let name = String(parts[2])
            guard known.contains(name) else {
                throw OptimizerStateError("key '\(key)': \(type(of: self)) keeps no buffer '\(name)' "
                    + "(it keeps: \(stateBufferNames.isEmpty ? "none" : stateBufferNames.joined(separator: ", ")))")
            }
            let parameter = groups[g].parameters[i]
            guard buffer.count == parameter.count else {
                throw OptimizerStateError("key '\(key)' has \(buffer.count) values, parameter \(i) of group "
                    + "'\(groups[g].name)' has \(parameter.count) (shape \(parameter.shape))")
            }
            fresh[g][i].setBuffer(buffer.makeStorage(dtype: parameter.dtype), named: name)
        }
        states = fresh
        stepCount = state.stepCount
    }
}

/// An optimizer's checkpointable state.
public struct OptimizerState: Sendable, Equatable {
    /// The number of `step()` calls made.
    public var stepCount: Int
    /// Per-parameter update counts keyed `"<group>.<index>"` (absent for never-updated ones).
    public var parameterSteps: [String: Int]
    /// Per-parameter buffers keyed `"<group>.<index>.<name>"`, e.g. `"0.3.exp_avg"`.
    public var buffers: [String: StateBuffer]

    /// Creates a state.
    public init(stepCount: Int, parameterSteps: [String: Int] = [:], buffers: [String: StateBuffer] = [:]) {
        self.stepCount = stepCount
        self.parameterSteps = parameterSteps
        self.buffers = buffers
    }
}

/// The values of one state buffer, in the parameter's element type.
public enum StateBuffer: Sendable, Equatable {
    /// Float32 values.
    case float32([Float])
    /// Float64 values.
    case float64([Double])

    /// The number of values.
    public var count: Int {
        switch self {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        }
    }

    /// The values as Double (exact for both cases).
    public var doubles: [Double] {
        switch self {
        case .float32(let v): return v.map(Double.init)
        case .float64(let v): return v
        }
    }

    /// Copies a storage's values.
    init(copying storage: TensorStorage) {
        switch storage.dtype {
        case .float32: self = .float32(Array(UnsafeBufferPointer(start: storage.floats, count: storage.count)))
        case .float64: self = .float64(Array(UnsafeBufferPointer(start: storage.doubles, count: storage.count)))
        }
    }

    /// New storage of `dtype` holding these values (converted when the types differ).
    func makeStorage(dtype: DType) -> TensorStorage {
        let storage = TensorStorage(dtype: dtype, count: count, zeroed: false)
        switch (self, dtype) {
        case (.float32(let v), .float32): for i in v.indices { storage.floats[i] = v[i] }
        case (.float32(let v), .float64): for i in v.indices { storage.doubles[i] = Double(v[i]) }
        case (.float64(let v), .float32): for i in v.indices { storage.floats[i] = Float(v[i]) }
        case (.float64(let v), .float64): for i in v.indices { storage.doubles[i] = v[i] }
        }
        return storage
    }
}

/// A checkpoint's optimizer state does not fit the optimizer it is loaded into.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// What does not fit, naming the key.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message, with what to check.
    public var description: String {
        "optimizer state: \(message). Load a checkpoint saved by the same optimizer over the same parameters."
    }
}
