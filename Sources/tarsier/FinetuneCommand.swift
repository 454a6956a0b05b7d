import ArgumentParser
import Foundation
import Tarsier

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune pretrained weights on a folder of images: a new head, optional freezing, a lower backbone LR.",
        discussion: "--from takes a Tarsier checkpoint (its model, input size and normalisation are reused), a "
            + "safetensors state dict, or a torchvision .pth state dict (ImageNet normalisation, 224 px). The head "
            + "is replaced for the data's classes. Defaults: 15 epochs, batch 32, SGD lr 0.01 for the head and 0.1x "
            + "for the backbone, warm-up then cosine, label smoothing 0.1. `tarsier train --resume RUN` continues a "
            + "fine-tuning run.")

    @Option(help: "Pretrained weights (.safetensors or .pth).") var from: String
    @Option(help: "Model (default: the checkpoint's).") var model: String?
    @Option(help: "An image folder or a CSV/TSV list of path,label.") var data: String
    @Option(help: "none (train everything), backbone (train only the head), or a stage such as layer2 (frozen up to it).")
    var freeze = "none"
    @Option(name: .customLong("backbone-lr-scale"), help: "Backbone learning rate as a fraction of the head's.")
    var backboneScale = 0.1
    @Option(name: .customLong("bn-stats"), help: "train, or frozen (frozen layers' batch norms keep their statistics).")
    var batchNormStatistics = "train"
    @Option(help: "Number of epochs.") var epochs: Int?
    @Option(name: .customLong("batch-size"), help: "Images per batch.") var batchSize: Int?
    @Option(name: [.customLong("lr"), .customLong("learning-rate")], help: "The head's peak learning rate.") var learningRate: Double?
    @Option(name: .customLong("weight-decay"), help: "Weight decay (weights of rank > 1).") var weightDecay: Double?
    @Option(help: "LR schedule: \(ScheduleKind.validNames.joined(separator: ", ")).") var schedule: String?
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(help: "bf16 convolution passes: auto, off, all, or a list.") var bf16: String?
    @Option(help: "CPU threads.") var threads: Int?
    @Option(help: "Run folder (default runs/finetune-<model>-<time>).") var output: String?
    @OptionGroup var folderOptions: FolderOptionsGroup

    func run() throws {
        runReportingErrors {
            let weights = try PretrainedWeights.read(from)
            guard let name = model ?? weights.modelName else {
                throw ValidationError("--model is needed: \(from) does not record its model")
            }
            guard ModelZoo.names.contains(name) else { throw UnknownModelError(name: name) }
            var o = FineTuneOptions.trainingDefaults(model: name)
            if let epochs { o.epochs = epochs }
            if let batchSize { o.batchSize = batchSize }
            if let learningRate { o.learningRate = learningRate }
            if let weightDecay { o.weightDecay = weightDecay }
            if let schedule { o.schedule = schedule }
            if let seed { o.seed = seed }
            if let bf16 { o.bfloat16 = bf16 }
            if let threads { o.threads = threads }
            var fineTune = FineTuneOptions(weights: from)
            fineTune.freeze = freeze
            fineTune.backboneLearningRateScale = backboneScale
            fineTune.batchNormStatistics = batchNormStatistics
            o.fineTune = fineTune
            var folderData = folderOptions.apply(to: nil, root: data)
            try FineTuning.adaptFolderOptions(&folderData, model: name, weights: weights)
            o.folder = folderData
            configureThreads(o.threads)
            let folder = output ?? "runs/finetune-\(name)-\(TrainCommand.timestamp())"
            let (trainer, about) = try FineTuning.makeTrainer(o)
            let keys = trainer.model.trainableKeys()
            print(describe(about, options: o, verb: "fine-tuning", folder: folder))
            print("from \(from): \(keys.trainable.count) parameter tensors train, \(keys.frozen.count) frozen; "
                  + "backbone lr x\(backboneScale), batch-norm statistics \(batchNormStatistics)")
            try runAndReport(trainer, folder: folder, resuming: false, skippedWhileLoading: about.skippedFiles,
                             profiler: nil)
        }
    }
}

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Write a checkpoint's penultimate features (the classifier head's inputs) for every image of a folder.",
        discussion: "The output safetensors file holds `features` [N, D] (Float32) and `labels` [N] (Int64), with the "
            + "class names and the image paths in its metadata, in the folder's order.")

    @Option(help: "A model.safetensors written by tarsier train or finetune.") var checkpoint: String
    @Option(help: "An image folder or a CSV/TSV list of path,label.") var data: String
    @Option(help: "The safetensors file to write.") var output: String
    @Option(help: "Decoding threads.") var workers = 2
    @Option(help: "CPU threads.") var threads = 2

    func run() throws {
        runReportingErrors {
            configureThreads(threads)
            let ckpt = try Checkpoint.load(from: checkpoint)
            let lower = data.lowercased()
            let dataset = lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") ? try LabelledFileList.load(path: data)
                : try ImageFolder.load(root: data)
            let loader = try FolderData.evaluationLoader(dataset, inputShape: ckpt.inputShape, mean: ckpt.mean,
                                                         std: ckpt.std, workers: workers, badFiles: .fail)
            let width = try ckpt.model.exposeFeatures()
            ckpt.model.eval()
            var features: [Float] = [], labels: [Int64] = [], paths: [String] = []
            let batches = loader.batches(epoch: 0)
            try Autograd.withNoGrad {
                while let batch = try batches.next() {
                    features += try ckpt.model(Tensor(shape: batch.shape, data: batch.images)).toArray()
                    labels += batch.labels.map(Int64.init)
                    paths += batch.indices.map { dataset.samples[$0].path }
                }
            }
            let encoder = JSONEncoder()
            let metadata = ["class_names": String(decoding: try encoder.encode(dataset.classNames), as: UTF8.self),
                            "paths": String(decoding: try encoder.encode(paths), as: UTF8.self),
                            "checkpoint": checkpoint]
            try SafeTensors.write(["features": SafeTensorsEntry(floats: features, shape: [labels.count, width]),
                                   "labels": SafeTensorsEntry(int64s: labels, shape: [labels.count])],
                                  metadata: metadata, to: output)
            print("wrote \(labels.count) x \(width) features of \(ckpt.modelName) to \(output)")
        }
    }
}
