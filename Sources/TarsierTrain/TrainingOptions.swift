/// Everything that defines a training run; saved as `config.json` in the run folder.
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// A model name from `ModelZoo.names`.
    public var model = "resnet9s"
    public var epochs = 4
    public var batchSize = 256
    /// "sgd", "adam" or "adamw".
    public var optimizer = "sgd"
    public var learningRate = 0.2
    public var momentum = 0.9
    public var nesterov = true
    /// Applied to weights of rank > 1 only; biases and batch-norm parameters are not decayed.
    public var weightDecay = 5e-4
    /// A `ScheduleKind` name; the default is the anchor recipe's linear warm-up and linear decay.
    public var schedule = "linear-onecycle"
    /// Fraction of steps spent warming up (one-cycle and warm-up cosine).
    public var warmupFraction = 0.2
    public var labelSmoothing = 0.1
    public var seed: UInt64 = 0
    public var threads = 2
    /// Zero padding for random crops (0 disables).
    public var cropPadding = 2
    public var horizontalFlip = true
    public var evaluationBatchSize = 1000
    /// Test-time augmentation for evaluation, a `TestTimeAugmentation.names` entry: "off",
    /// "flip" (each test image and its mirror) or "flip-shift" (also moved a pixel diagonally,
    /// six views); the plain accuracy is reported beside it. Nil means off.
    public var testTimeAugmentation: String?
    /// Convolution passes in bfloat16 with Float32 accumulation (mixed precision): "off", "all",
    /// a comma-separated list of "forward", "backward-data", "backward-weights", or "auto": where
    /// the CPU has native bf16, forward, backward-data, and backward-weights on images of at
    /// least 14x14 outputs (the combination that was fastest), else off.
    public var bfloat16 = "auto"
    /// Image files to train on instead of Fashion-MNIST (nil: Fashion-MNIST's IDX files).
    public var folder: FolderDataOptions?
    /// Pretrained weights and how they are adapted (`tarsier finetune`); nil trains from scratch.
    public var fineTune: FineTuneOptions?

    public init() {}

    /// The documented presets: "default" (≥ 92% on Fashion-MNIST within 3 minutes here) and
    /// "best" (≥ 94% within 6 minutes).
    public static func preset(_ name: String) throws -> TrainingOptions {
        var o = TrainingOptions()
        switch name {
        case "default": return o
        case "best":
            o.epochs = 11
            o.testTimeAugmentation = "flip-shift"
            return o
        case "finetune":
            // The fine-tuning recipe without pretrained weights: the from-scratch baseline on small data.
            return FineTuneOptions.trainingDefaults(model: o.model)
        case "lenet":
            o.model = "lenet5"; o.epochs = 10; o.batchSize = 128; o.learningRate = 0.05
            o.cropPadding = 0; o.horizontalFlip = false
            return o
        default:
            throw TrainingError.invalidOption("unknown preset '\(name)'; valid presets: default, best, lenet, finetune")
        }
    }
}

/// Errors that stop a run, each naming what to fix.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case nonFiniteLoss(epoch: Int, step: Int, value: Double)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidOption(let message): return message
        case .nonFiniteLoss(let epoch, let step, let value):
            return "loss became \(value) at epoch \(epoch), step \(step) (global); training stopped, the last checkpoint is unchanged — lower the learning rate"
        case .checkpoint(let message): return message
        }
    }
}
