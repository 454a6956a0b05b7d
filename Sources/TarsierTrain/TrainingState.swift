import TarsierCore
import TarsierNN
import TarsierOptim
import TarsierSupport
import Foundation

/// Everything needed to continue a run exactly after its last finished epoch: the model, the
/// optimiser's buffers and step counts, the global step, the random stream and the figures so
/// far. The data order and augmentation are pure functions of (seed, epoch), and schedules of the
/// step, so no other state is needed. Stored as one safetensors file, written atomically.
public struct TrainingState {
    /// Epochs finished.
    public var epochsDone: Int
    public var globalStep: Int
    public var trainingSeconds: Double
    public var summaries: [EpochSummary]
    public var secondsToAccuracy: [Int: Double]

    static let optimizerPrefix = "optimizer."
    static let modelPrefix = "model."

    /// Writes the state of `trainer` after `epochsDone` epochs to `path` atomically.
    static func save(trainer: Trainer, state: TrainingState, to path: String) throws {
        var entries: [String: SafeTensorsEntry] = [:]
        for (key, entry) in trainer.model.stateDictEntries() { entries[modelPrefix + key] = entry }
        let optimizerState = trainer.optimizer.stateDict()
        for (key, buffer) in optimizerState.buffers {
            switch buffer {
            case .float32(let v): entries[optimizerPrefix + key] = SafeTensorsEntry(floats: v, shape: [v.count])
            case .float64(let v):
                entries[optimizerPrefix + key] = Tensor(shape: [v.count], data: v).safeTensorsEntry()
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let metadata: [String: String] = [
            "format": "tarsier-training-state-1",
            "options": try json(trainer.options),
            "epochs_done": String(state.epochsDone),
            "global_step": String(state.globalStep),
            "training_seconds": String(state.trainingSeconds),
            "summaries": try json(state.summaries),
            "seconds_to_accuracy": try json(state.secondsToAccuracy.map { [Double($0.key), $0.value] }),
            "optimizer_step_count": String(optimizerState.stepCount),
            "optimizer_parameter_steps": try json(optimizerState.parameterSteps),
            "random_state": try json(RandomState.state),
        ]
        try SafeTensors.write(entries, metadata: metadata, to: path)
    }

    /// The epoch summaries stored in a state file (to rebuild a run folder's metrics when resuming).
    public static func savedSummaries(at path: String) throws -> [EpochSummary] {
        let meta = try SafeTensors.read(contentsOf: path).metadata
        return try MetadataFields(metadata: meta, path: path, kind: "Tarsier training state")
            .decode("summaries", as: [EpochSummary].self)
    }

    /// Reads a state file and restores the model, optimiser and random stream of `trainer`.
    static func restore(into trainer: Trainer, from path: String) throws -> TrainingState {
        let file = try SafeTensors.read(contentsOf: path)
        let meta = file.metadata
        let fields = MetadataFields(metadata: meta, path: path, kind: "Tarsier training state")
        func field<T: Decodable>(_ key: String, _ type: T.Type) throws -> T { try fields.decode(key, as: type) }
        guard meta["format"] == "tarsier-training-state-1" else {
            throw TrainingError.checkpoint("\(path) is not a Tarsier training state (format \(meta["format"] ?? "none"))")
        }
        let saved = try field("options", TrainingOptions.self)
        guard saved == trainer.options else {
            throw TrainingError.checkpoint("\(path) was written with other options; resume with the run's own config.json")
        }
        var modelEntries: [String: SafeTensorsEntry] = [:]
        var buffers: [String: StateBuffer] = [:]
        for (key, entry) in file.tensors {
            if key.hasPrefix(modelPrefix) {
                modelEntries[String(key.dropFirst(modelPrefix.count))] = entry
            } else if key.hasPrefix(optimizerPrefix) {
                let name = String(key.dropFirst(optimizerPrefix.count))
                buffers[name] = entry.dtype == .f64 ? .float64(try entry.doubles()) : .float32(try entry.floats())
            }
        }
        try trainer.model.loadStateDict(modelEntries, strict: true, file: path)
        try trainer.optimizer.loadStateDict(OptimizerState(
            stepCount: try field("optimizer_step_count", Int.self),
            parameterSteps: try field("optimizer_parameter_steps", [String: Int].self), buffers: buffers))
        RandomState.state = try field("random_state", SeededGenerator.self)
        let reached = try field("seconds_to_accuracy", [[Double]].self)
        return TrainingState(epochsDone: try field("epochs_done", Int.self), globalStep: try field("global_step", Int.self),
                             trainingSeconds: try field("training_seconds", Double.self),
                             summaries: try field("summaries", [EpochSummary].self),
                             secondsToAccuracy: Dictionary(uniqueKeysWithValues: reached.compactMap {
                                 $0.count == 2 ? (Int($0[0]), $0[1]) : nil
                             }))
    }
}
