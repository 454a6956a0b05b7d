import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision
import Foundation

/// A model checkpoint: a safetensors state dict whose metadata records how to rebuild the model.
public struct Checkpoint {
    public var model: Module
    public var modelName: String
    public var classNames: [String]
    /// [C, H, W] of the training images.
    public var inputShape: [Int]
    public var mean: [Float], std: [Float]
    public var epoch: Int

    /// Writes weights and metadata atomically.
    public static func save(model: Module, options: TrainingOptions, classNames: [String], inputShape: [Int],
                            mean: [Float], std: [Float], epoch: Int, to path: String) throws {
        let encoder = JSONEncoder()
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try encoder.encode(v), as: UTF8.self) }
        let metadata: [String: String] = [
            "format": "tarsier-checkpoint-1",
            "model": options.model,
            "class_names": try json(classNames),
            "input_shape": try json(inputShape),
            "mean": try json(mean),
            "std": try json(std),
            "epoch": String(epoch),
        ]
        try model.saveWeights(to: path, metadata: metadata)
    }

    /// Rebuilds the model named in the file's metadata and loads its weights.
    public static func load(from path: String) throws -> Checkpoint {
        let file = try SafeTensors.read(contentsOf: path)
        let meta = file.metadata
        let fields = MetadataFields(metadata: meta, path: path, kind: "Tarsier checkpoint")
        func field<T: Decodable>(_ key: String, _ type: T.Type) throws -> T { try fields.decode(key, as: type) }
        guard let name = meta["model"] else {
            throw TrainingError.checkpoint("\(path): metadata key 'model' is missing; is this a Tarsier checkpoint?")
        }
        let classNames = try field("class_names", [String].self)
        let inputShape = try field("input_shape", [Int].self)
        guard inputShape.count == 3 else { throw TrainingError.checkpoint("\(path): input_shape must have 3 values") }
        let model = try ModelZoo.make(name, classCount: classNames.count, inputChannels: inputShape[0])
        try model.loadStateDict(file.tensors, strict: true, file: path)
        return Checkpoint(model: model, modelName: name, classNames: classNames, inputShape: inputShape,
                          mean: try field("mean", [Float].self), std: try field("std", [Float].self),
                          epoch: Int(meta["epoch"] ?? "0") ?? 0)
    }
}
