import TarsierCore

/// The base class of layers and models.
///
/// Parameters (tensors with a leaf autodiff node), buffers (tensors without one, such as running
/// statistics) and child modules are stored properties, found by reflection. Their keys follow
/// PyTorch's `state_dict`: the property name in snake_case (`runningMean` → `running_mean`), joined
/// with dots (`layer1.0.conv1.weight`); arrays of modules are numbered.
open class Module {
    /// True in training mode (batch statistics, dropout on), false in evaluation mode.
    public private(set) var isTraining = true

    public init() {}

    /// The layer's computation. Throws a `ShapeError` naming the layer when the input does not fit.
    open func forward(_ x: Tensor) throws -> Tensor {
        preconditionFailure("\(type(of: self)) must override forward(_:)")
    }

    /// Runs `forward`.
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x) }

    /// A short description of the layer for messages (`Conv2d(3, 64, kernel 3x3)`).
    open var layerDescription: String { String(describing: type(of: self)) }

    /// Child modules by key; the default finds stored `Module` and `[Module]` properties.
    open func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        forEachStoredProperty { label, value in
            if let m = value as? Module {
                result.append((label, m))
            } else if let list = value as? [Module] {
                for (i, m) in list.enumerated() { result.append(("\(label).\(i)", m)) }
            }
        }
        return result
    }

    /// This module's own tensors by key (parameters and buffers, not children's).
    open func namedOwnTensors() -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        forEachStoredProperty { label, value in
            // Optional tensors unwrap here too; a nil bias is simply absent.
            if let t = value as? Tensor { result.append((label, t)) }
        }
        return result
    }

    private func forEachStoredProperty(_ body: (String, Any) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror, m.subjectType != Module.self {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("_") else { continue }
                body(Module.stateKey(forProperty: label), child.value)
            }
            mirror = m.superclassMirror
        }
    }

    /// camelCase property name → PyTorch snake_case key.
    static func stateKey(forProperty name: String) -> String {
        var key = ""
        for ch in name {
            if ch.isUppercase { key += "_" + ch.lowercased() } else { key.append(ch) }
        }
        return key
    }

    /// Every module below and including this one, with its dotted prefix ("" for self).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var result = [(prefix, self)]
        for (key, child) in namedChildren() {
            result += child.namedModules(prefix: prefix.isEmpty ? key : "\(prefix).\(key)")
        }
        return result
    }

    /// All tensors (parameters and buffers) with their `state_dict` keys.
    public func stateDict() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, module in
            module.namedOwnTensors().map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Parameters (tensors with a leaf autodiff node), frozen ones included, with their keys.
    public func namedParameters() -> [(String, Tensor)] {
        stateDict().filter { $0.1.gradNode != nil }
    }

    /// All parameters.
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Parameters that are not frozen.
    public func trainableParameters() -> [Tensor] { parameters().filter(\.requiresGrad) }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// When true, `train()` leaves this module in evaluation mode (frozen batch-norm statistics
    /// while fine-tuning); set it with `freezeBatchNormStatistics`.
    public var staysInEvaluationMode = false

    /// Sets training (true) or evaluation (false) mode on this module and its children; modules
    /// with `staysInEvaluationMode` stay in evaluation mode.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on && !m.staysInEvaluationMode }
    }

    /// Evaluation mode (as `model.eval()`).
    public func eval() { train(false) }

    /// Freezes parameters: all, or those whose key starts with one of `prefixes`.
    public func freeze(keys prefixes: [String]? = nil) { setTrainable(false, prefixes) }

    /// Unfreezes parameters: all, or those whose key starts with one of `prefixes`.
    public func unfreeze(keys prefixes: [String]? = nil) { setTrainable(true, prefixes) }

    private func setTrainable(_ on: Bool, _ prefixes: [String]?) {
        for (key, p) in namedParameters() where prefixes?.contains(where: { key.hasPrefix($0) }) ?? true {
            p.gradNode?.requiresGrad = on
        }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for p in parameters() { p.gradNode?.zeroGrad() }
    }

    /// A new trainable parameter holding `value`.
    public static func parameter(_ value: Tensor) -> Tensor { value.detached().requiringGrad() }
}

extension Module: CustomStringConvertible {
    public var description: String {
        let children = namedChildren()
        if children.isEmpty { return layerDescription }
        let body = children.map { key, m in
            "  (\(key)): " + m.description.replacingOccurrences(of: "\n", with: "\n  ")
        }.joined(separator: "\n")
        return "\(layerDescription)(\n\(body)\n)"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
