import TarsierCore
import TarsierSupport

/// An error in a transfer-learning request: no head to replace, or an unknown stage.
public struct TransferLearningError: Error, CustomStringConvertible {
    /// What is wrong and what the model offers instead.
    public var description: String
}

extension Module {
    /// The classifier heads: the last `Linear` layer (torchvision's `fc`, `classifier.6`,
    /// `classifier.1`, ...) and any auxiliary classifier (`aux1.fc2`, `AuxLogits.fc`) with the same
    /// number of outputs, keyed by their state-dict prefixes.
    public func classifierHeads() -> [(key: String, layer: Linear)] {
        let linears = namedModules().compactMap { key, module in (module as? Linear).map { (key: key, layer: $0) } }
        guard let last = linears.last else { return [] }
        return linears.filter { head in
            head.key == last.key
                || (head.key.lowercased().contains("aux") && head.layer.outputFeatures == last.layer.outputFeatures)
        }
    }

    /// Replaces the classifier heads with freshly initialised ones of `classCount` outputs (a new
    /// task); returns their key prefixes. Other weights are untouched.
    /// - Throws: `TransferLearningError` when the model has no `Linear` layer.
    @discardableResult
    public func replaceClassifier(classCount: Int) throws -> [String] {
        let heads = classifierHeads()
        guard !heads.isEmpty else {
            throw TransferLearningError(description: "\(layerDescription) has no Linear layer to replace as its classifier head")
        }
        for head in heads { head.layer.reset(outputFeatures: classCount) }
        return heads.map(\.key)
    }

    /// Loads pretrained weights into everything but the classifier heads, which keep their fresh
    /// initialisation (a new task's head); every other key must match the file.
    /// - Returns: The heads' key prefixes.
    /// - Throws: `WeightLoadError` listing missing, unexpected or mismatched keys (head keys excepted).
    @discardableResult
    public func loadPretrainedBackbone(_ entries: [String: SafeTensorsEntry], file: String) throws -> [String] {
        let heads = classifierHeads().map(\.key)
        let withoutHead = entries.filter { !Module.isKey($0.key, under: heads) }
        let report = try loadStateDict(withoutHead, strict: false, file: file)
        let missing = report.missing.filter { !Module.isKey($0, under: heads) }
        guard missing.isEmpty, report.unexpected.isEmpty else {
            throw WeightLoadError(file: file, missing: missing, unexpected: report.unexpected, mismatched: [])
        }
        return heads
    }

    /// Whether `key` is a tensor of one of the modules at `prefixes` (state-dict key prefixes).
    public static func isKey(_ key: String, under prefixes: [String]) -> Bool {
        prefixes.contains { key == $0 || key.hasPrefix($0 + ".") }
    }

    /// Freezes every parameter except the classifier heads' (a linear probe when only the head trains).
    /// - Throws: `TransferLearningError` when the model has no head.
    public func freezeBackbone() throws {
        let heads = classifierHeads().map(\.key)
        guard !heads.isEmpty else {
            throw TransferLearningError(description: "\(layerDescription) has no Linear classifier head")
        }
        for (key, parameter) in namedParameters() {
            parameter.gradNode?.requiresGrad = Module.isKey(key, under: heads)
        }
    }

    /// Freezes the parameters registered up to and including the module at `stage` (a state-dict
    /// prefix such as `layer2` or `features.10`), in the model's order; later ones stay trainable.
    /// - Throws: `TransferLearningError` naming the valid stages when `stage` has no parameters.
    public func freeze(upToStage stage: String) throws {
        let parameters = namedParameters()
        guard let last = parameters.lastIndex(where: { Module.isKey($0.0, under: [stage]) }) else {
            let stages = namedChildren().map(\.0).filter { child in parameters.contains { Module.isKey($0.0, under: [child]) } }
            throw TransferLearningError(description: "no parameters under '\(stage)'; stages of \(layerDescription): "
                                            + stages.joined(separator: ", "))
        }
        for (index, (_, parameter)) in parameters.enumerated() { parameter.gradNode?.requiresGrad = index > last }
    }

    /// Keeps the batch-norm layers whose parameters are all frozen in evaluation mode while the
    /// model trains, so their running statistics stay those of the pretrained model.
    public func freezeBatchNormStatistics() {
        for (_, module) in namedModules() where module is BatchNorm {
            let own = module.namedOwnTensors().filter { $0.1.gradNode != nil }.map(\.1)
            module.staysInEvaluationMode = !own.isEmpty && own.allSatisfy { !$0.requiresGrad }
        }
        train(isTraining)
    }

    /// The parameter keys that are trainable and those that are frozen, in model order.
    public func trainableKeys() -> (trainable: [String], frozen: [String]) {
        let parameters = namedParameters()
        return (parameters.filter { $0.1.requiresGrad }.map(\.0), parameters.filter { !$0.1.requiresGrad }.map(\.0))
    }

    /// Turns the classifier head into an identity map, so the model outputs its penultimate
    /// features (the head's inputs) — for feature extraction. The heads' weights are replaced.
    /// - Throws: `TransferLearningError` when the model has no head.
    public func exposeFeatures() throws -> Int {
        guard let head = classifierHeads().last?.layer else {
            throw TransferLearningError(description: "\(layerDescription) has no Linear classifier head")
        }
        let width = head.inputFeatures
        head.reset(outputFeatures: width)
        var identity = [Float](repeating: 0, count: width * width)
        for i in 0..<width { identity[i * width + i] = 1 }
        head.weight.assign(Tensor(shape: [width, width], data: identity))
        head.bias?.assign(Tensor(shape: [width], data: [Float](repeating: 0, count: width)))
        return width
    }
}
