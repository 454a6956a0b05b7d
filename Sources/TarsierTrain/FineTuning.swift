import Foundation
import TarsierCore
import TarsierNN
import TarsierOptim
import TarsierSupport
import TarsierVision

/// How a pretrained model is adapted to a new task; saved with the run's options.
public struct FineTuneOptions: Codable, Sendable, Equatable {
    /// The pretrained weights: a Tarsier checkpoint (`model.safetensors`), a safetensors state
    /// dict, or a PyTorch `.pth`/`.pt` state dict (torchvision's layout).
    public var weights: String
    /// "none" (train everything), "backbone" (train only the new head: a linear probe), or a stage
    /// such as "layer2" (freeze it and everything before it).
    public var freeze = "none"
    /// The backbone's learning rate as a fraction of the head's.
    public var backboneLearningRateScale = 0.1
    /// "train" (batch-norm statistics keep adapting) or "frozen" (frozen layers' batch norms stay
    /// in evaluation mode).
    public var batchNormStatistics = "train"

    /// Options for `weights` with the defaults.
    public init(weights: String) { self.weights = weights }

    /// Sensible training defaults for fine-tuning a small dataset: SGD with Nesterov momentum,
    /// lr 0.01 for the head (0.001 for the backbone; 0.2 and 0.02 for resnet9s, whose logits are
    /// scaled by 1/8 so its head needs larger steps, as in its from-scratch recipe), warm-up then
    /// cosine decay, 15 epochs of batches of 32, label smoothing 0.1.
    public static func trainingDefaults(model: String) -> TrainingOptions {
        var o = TrainingOptions()
        o.model = model
        o.epochs = 15
        o.batchSize = 32
        o.learningRate = model == "resnet9s" ? 0.2 : 0.01
        o.weightDecay = 1e-4
        o.schedule = "warmup-cosine"
        o.warmupFraction = 0.1
        o.evaluationBatchSize = 256
        return o
    }
}

/// Pretrained weights read once: the tensors and, for a Tarsier checkpoint, how the model was trained.
public struct PretrainedWeights {
    /// The file.
    public var path: String
    /// Its tensors by state-dict key.
    public var tensors: [String: SafeTensorsEntry]
    /// The model name recorded in a Tarsier checkpoint.
    public var modelName: String?
    /// `[C, H, W]` the model was trained on (Tarsier checkpoints).
    public var inputShape: [Int]?
    /// The normalisation it was trained with (Tarsier checkpoints).
    public var mean: [Float]?, std: [Float]?

    /// Reads `.pth`/`.pt`/`.bin` as PyTorch state dicts (safely), anything else as safetensors.
    public static func read(_ path: String) throws -> PretrainedWeights {
        let lower = path.lowercased()
        if lower.hasSuffix(".pth") || lower.hasSuffix(".pt") || lower.hasSuffix(".bin") {
            return PretrainedWeights(path: path, tensors: try TorchStateDict.read(contentsOf: path))
        }
        let file = try SafeTensors.read(contentsOf: path)
        var weights = PretrainedWeights(path: path, tensors: file.tensors)
        if file.metadata["format"]?.hasPrefix("tarsier-checkpoint") == true {
            let fields = MetadataFields(metadata: file.metadata, path: path, kind: "Tarsier checkpoint")
            weights.modelName = file.metadata["model"]
            weights.inputShape = try fields.decode("input_shape", as: [Int].self)
            weights.mean = try fields.decode("mean", as: [Float].self)
            weights.std = try fields.decode("std", as: [Float].self)
        }
        return weights
    }

    /// The input channels of the weights for `model` (its first convolution's input width).
    public func inputChannels(model: String) throws -> Int {
        if let inputShape { return inputShape[0] }
        let probe = try ModelZoo.make(model, classCount: 2, inputChannels: 3)
        guard let (key, _) = probe.namedParameters().first(where: { $0.1.rank == 4 }),
              let entry = tensors[key], entry.shape.count == 4 else {
            throw TrainingError.checkpoint("\(path): no first-convolution weight for \(model); is it a \(model) state dict?")
        }
        return entry.shape[1]
    }
}

/// Transfer learning: a zoo model with pretrained weights and a new head, frozen as asked, with a
/// lower learning rate for the backbone.
public enum FineTuning {
    /// Builds `model` for `classCount` classes and loads every pretrained weight except the
    /// classifier head's, which starts fresh. Keys other than the head's must all match.
    /// - Throws: `WeightLoadError` listing missing, unexpected or mismatched keys.
    public static func makeModel(_ model: String, classCount: Int, inputChannels: Int,
                                 weights: PretrainedWeights) throws -> Module {
        let network = try ModelZoo.make(model, classCount: classCount, inputChannels: inputChannels)
        try network.loadPretrainedBackbone(weights.tensors, file: weights.path)
        return network
    }

    /// Applies `options.freeze` and `options.batchNormStatistics` to `model`.
    public static func applyFreezing(_ options: FineTuneOptions, to model: Module) throws {
        switch options.freeze {
        case "none": model.unfreeze()
        case "backbone": try model.freezeBackbone()
        default: try model.freeze(upToStage: options.freeze)
        }
        switch options.batchNormStatistics {
        case "train": break
        case "frozen": model.freezeBatchNormStatistics()
        default:
            throw TrainingError.invalidOption("unknown batch-norm setting '\(options.batchNormStatistics)'; valid: train, frozen")
        }
    }

    /// Optimiser groups: the head at `learningRate`, the trainable backbone at
    /// `learningRate * backboneScale`; weights (rank ≥ 2) decayed, biases and norms not.
    public static func parameterGroups(_ model: Module, learningRate: Double, backboneScale: Double,
                                       weightDecay: Double) -> [ParameterGroup] {
        let heads = model.classifierHeads().map(\.key)
        let trainable = model.namedParameters().filter { $0.1.requiresGrad }
        let head = trainable.filter { Module.isKey($0.0, under: heads) }.map(\.1)
        let backbone = trainable.filter { !Module.isKey($0.0, under: heads) }.map(\.1)
        func named(_ groups: [ParameterGroup], _ prefix: String) -> [ParameterGroup] {
            groups.map { group in
                var renamed = group
                renamed.name = "\(prefix)_\(group.name)"
                return renamed
            }
        }
        return named(ParameterGroup.splittingWeightDecay(head, weightDecay: weightDecay, learningRate: learningRate), "head")
            + named(ParameterGroup.splittingWeightDecay(backbone, weightDecay: weightDecay,
                                                        learningRate: learningRate * backboneScale), "backbone")
    }
}

extension FineTuning {
    /// Fills in what the pretrained weights decide: the input channels, and for a Tarsier
    /// checkpoint its image size and normalisation (ImageNet's for other files, as torchvision's
    /// pretrained models expect). Values the user set are kept, except channels, which must match.
    public static func adaptFolderOptions(_ folder: inout FolderDataOptions, model: String,
                                          weights: PretrainedWeights) throws {
        let channels = try weights.inputChannels(model: model)
        if let chosen = folder.channels, chosen != channels {
            throw TrainingError.invalidOption("the pretrained \(model) takes \(channels)-channel images, not \(chosen)")
        }
        folder.channels = channels
        if folder.imageSize == nil { folder.imageSize = weights.inputShape?[1] ?? 224 }
        if folder.mean == nil, folder.std == nil {
            if let mean = weights.mean, let std = weights.std {
                (folder.mean, folder.std) = (mean, std)
            } else {
                (folder.mean, folder.std) = FolderData.imageNetStatistics(channels: channels)
            }
        }
    }

    /// The data, the model (pretrained backbone, fresh head, freezing) and the trainer that
    /// `options` describe; `options.fineTune` and `options.folder` must be set (as
    /// `tarsier finetune` sets them, and as its `config.json` records them for `--resume`).
    public static func makeTrainer(_ options: TrainingOptions) throws -> (trainer: Trainer, data: FolderDataDescription) {
        guard let fineTune = options.fineTune, let folder = options.folder else {
            throw TrainingError.invalidOption("fine-tuning needs pretrained weights and a data folder")
        }
        let weights = try PretrainedWeights.read(fineTune.weights)
        let (data, description) = try FolderData.make(folder, training: options)
        RandomState.seed(options.seed)
        let model = try makeModel(options.model, classCount: data.classNames.count, inputChannels: data.inputShape[0],
                                  weights: weights)
        try applyFreezing(fineTune, to: model)
        let groups = parameterGroups(model, learningRate: options.learningRate,
                                     backboneScale: fineTune.backboneLearningRateScale, weightDecay: options.weightDecay)
        guard !groups.isEmpty else { throw TrainingError.invalidOption("every parameter is frozen; nothing would train") }
        let trainer = try Trainer(options: options, data: data, model: model, parameterGroups: groups)
        return (trainer, description)
    }
}
