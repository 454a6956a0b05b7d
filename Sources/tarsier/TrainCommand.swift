import ArgumentParser
import Tarsier
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on Fashion-MNIST (the default) or a folder of images and report its accuracy.",
        discussion: "--data takes Fashion-MNIST's IDX folder, an ImageFolder (one subfolder per class, optionally "
            + "inside train/ and val/ or test/), or a CSV/TSV list of path,label. Without a val/ or test/ folder, "
            + "--val-fraction of each class is held out (seeded).")

    @Option(help: "A preset: default, best, lenet, finetune (the finetune recipe from scratch).") var preset = "default"
    @Option(help: "Model: \(ModelZoo.names.joined(separator: ", ")).") var model: String?
    @Option(help: "Number of epochs.") var epochs: Int?
    @Option(name: .customLong("batch-size"), help: "Images per batch.") var batchSize: Int?
    @Option(help: "Optimizer: sgd, adam, adamw.") var optimizer: String?
    @Option(name: [.customLong("lr"), .customLong("learning-rate")], help: "Peak learning rate.") var learningRate: Double?
    @Option(name: .customLong("weight-decay"), help: "Weight decay (weights of rank > 1).") var weightDecay: Double?
    @Option(help: "LR schedule: \(ScheduleKind.validNames.joined(separator: ", ")).") var schedule: String?
    @Option(name: .customLong("label-smoothing"), help: "Label smoothing for cross-entropy.") var labelSmoothing: Double?
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(help: "bf16 convolution passes (Float32 elsewhere): auto (default), off, all, or a list of forward, backward-data, backward-weights.") var bf16: String?
    @Option(help: "CPU threads.") var threads: Int?
    @Option(help: "Test-time augmentation for evaluation: off, flip (each test image and its mirror) or flip-shift (also moved a pixel diagonally; the best preset's).")
    var tta: String?
    @Option(help: "Fashion-MNIST's IDX folder (the default), an image folder, or a CSV/TSV list.") var data: String?
    @OptionGroup var folderOptions: FolderOptionsGroup
    @Option(help: "Run folder (default runs/<model>-<time>).") var output: String?
    @Option(help: "Continue the run in this folder after its last finished epoch (its config.json sets the options).") var resume: String?
    @Option(name: .customLong("train-limit"), help: "Use only the first N training images (quick runs).") var trainLimit: Int?
    @Option(name: .customLong("test-limit"), help: "Use only the first N test images (quick runs).") var testLimit: Int?
    @Flag(help: "Print the time spent in each kernel after training.") var profile = false

    func run() throws {
        runReportingErrors {
            var o = try TrainingOptions.preset(preset)
            if let resume {
                let configPath = (resume as NSString).appendingPathComponent("config.json")
                guard let data = FileManager.default.contents(atPath: configPath),
                      let saved = try? JSONDecoder().decode(TrainingOptions.self, from: data) else {
                    throw ValidationError("\(configPath) is missing or unreadable; --resume needs a run folder written by tarsier train")
                }
                o = saved
            }
            if let model { o.model = model }
            if let epochs { o.epochs = epochs }
            if let batchSize { o.batchSize = batchSize }
            if let optimizer { o.optimizer = optimizer }
            if let learningRate { o.learningRate = learningRate }
            if let weightDecay { o.weightDecay = weightDecay }
            if let schedule { o.schedule = schedule }
            if let labelSmoothing { o.labelSmoothing = labelSmoothing }
            if let seed { o.seed = seed }
            if let bf16 { o.bfloat16 = bf16 }
            if let threads { o.threads = threads }
            if let tta { o.testTimeAugmentation = tta }
            guard ModelZoo.names.contains(o.model) else { throw UnknownModelError(name: o.model) }
            configureThreads(o.threads)
            let profiler = profile ? ProfilingBackend(wrapping: Device.cpu.backend) : nil
            if let profiler { Device.default = Device(backend: profiler) }

            if let data, !FashionMNIST.isIDXDirectory(data) {
                o.folder = folderOptions.apply(to: o.folder?.root == data ? o.folder : nil, root: data)
            } else if data != nil {
                o.folder = nil
            }
            let folder = resume ?? output ?? "runs/\(o.model)-\(Self.timestamp())"
            let trainer: Trainer
            var skipped: [SkippedFile] = []
            if o.fineTune != nil {
                let (fineTuner, about) = try FineTuning.makeTrainer(o)
                trainer = fineTuner
                skipped = about.skippedFiles
                print(describe(about, options: o, verb: "fine-tuning", folder: folder))
            } else if let folderData = o.folder {
                let (trainingData, about) = try FolderData.make(folderData, training: o)
                trainer = try Trainer(options: o, data: trainingData)
                skipped = about.skippedFiles
                print(describe(about, options: o, verb: "training", folder: folder))
            } else {
                let directory = data ?? FashionMNIST.defaultDirectory
                var trainSet = try FashionMNIST.load(directory: directory, split: .train)
                var testSet = try FashionMNIST.load(directory: directory, split: .test)
                if let trainLimit { trainSet = trainSet.subset(Array(0..<min(max(trainLimit, 0), trainSet.count))) }
                if let testLimit { testSet = testSet.subset(Array(0..<min(max(testLimit, 0), testSet.count))) }
                trainer = try Trainer(options: o, trainSet: trainSet, testSet: testSet,
                                      mean: [FashionMNIST.mean], std: [FashionMNIST.std])
                print("training \(o.model) on Fashion-MNIST (\(trainSet.count) train / \(testSet.count) test images), "
                      + "\(o.epochs) epochs, batch \(o.batchSize), \(o.optimizer) lr \(o.learningRate) \(o.schedule), "
                      + "\(o.threads) threads; run folder \(folder)")
            }
            try runAndReport(trainer, folder: folder, resuming: resume != nil, skippedWhileLoading: skipped,
                             profiler: profiler)
        }
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Re-evaluate a saved checkpoint on the Fashion-MNIST test set or on a folder of images.",
        discussion: "With an image folder, its val/, valid/, validation/ or test/ subfolder is used when present; the "
            + "images are resized and centre-cropped to the checkpoint's input size and normalised as in training.")

    @Option(help: "A model.safetensors written by `tarsier train` or `tarsier finetune`.") var checkpoint: String
    @Option(help: "Fashion-MNIST's IDX folder (the default), an image folder, or a CSV/TSV list.")
    var data = FashionMNIST.defaultDirectory
    @Option(help: "Decoding threads (image folders).") var workers = 2
    @Option(help: "CPU threads.") var threads = 2
    @Option(help: "Test-time augmentation: off, flip (each image and its mirror) or flip-shift (also moved a pixel diagonally).")
    var tta = "off"

    func run() throws {
        runReportingErrors {
            configureThreads(threads)
            let ckpt = try Checkpoint.load(from: checkpoint)
            let augmentation = try TestTimeAugmentation(named: tta, mean: ckpt.mean, std: ckpt.std)
            let evaluation: EvaluationResult
            if FashionMNIST.isIDXDirectory(data) {
                let testSet = try FashionMNIST.load(directory: data, split: .test)
                evaluation = try Evaluator.evaluate(ckpt.model, on: testSet, mean: ckpt.mean, std: ckpt.std,
                                                    augmentation: augmentation)
            } else {
                let files = try FolderData.evaluationFiles(data)
                guard files.classNames == ckpt.classNames else {
                    throw ValidationError("the classes of \(files.source) \(files.classNames) differ from the checkpoint's "
                                          + "\(ckpt.classNames)")
                }
                let loader = try FolderData.evaluationLoader(files, inputShape: ckpt.inputShape, mean: ckpt.mean,
                                                             std: ckpt.std, workers: workers)
                evaluation = try Evaluator.evaluate(ckpt.model, on: loader, augmentation: augmentation)
                for file in evaluation.skippedFiles { print("skipped \(file.path): \(file.reason)") }
            }
            print("\(ckpt.modelName) from \(checkpoint) (epoch \(ckpt.epoch))")
            print(ReportText.render(evaluation))
        }
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the model zoo with parameter counts and forward GFLOPs.",
        discussion: "GFLOPs are 2 x multiply-adds of convolutions and linear layers for one image at the model's "
            + "default input (1x28x28 for lenet5 and resnet9s, 3x299x299 for inception_v3, 3x224x224 otherwise), "
            + "evaluation mode.")

    func run() throws {
        runReportingErrors {
            print("model".padding(toLength: 14, withPad: " ", startingAt: 0) + "input".padding(toLength: 12, withPad: " ", startingAt: 0)
                  + "parameters".leftPadded(14) + "GFLOPs".leftPadded(10))
            for name in ModelZoo.names {
                let shape = ModelZoo.defaultInputShape(name)
                let m = try ModelZoo.make(name, classCount: ModelZoo.defaultClassCount(name), inputChannels: shape[0])
                let flops = try ModelCost.forwardFlops(m, inputShape: shape)
                print(name.padding(toLength: 14, withPad: " ", startingAt: 0)
                      + shape.map(String.init).joined(separator: "x").padding(toLength: 12, withPad: " ", startingAt: 0)
                      + "\(m.parameterCount)".leftPadded(14) + String(format: "%.3f", Double(flops) / 1e9).leftPadded(10))
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// The one-line summary of a run on image files.
func describe(_ about: FolderDataDescription, options o: TrainingOptions, verb: String, folder: String) -> String {
    "\(verb) \(o.model) on \(about.trainCount) images of \(about.classCount) classes from \(about.trainSource) "
        + "(validation: \(about.validationCount) from \(about.validationSource)), input "
        + "\(about.inputShape.map(String.init).joined(separator: "x")), augmentation \(about.augmentation)"
        + (about.inMemory ? " (decoded once into memory)" : "") + ", \(o.epochs) epochs, batch \(o.batchSize), "
        + "\(o.optimizer) lr \(o.learningRate) \(o.schedule), \(o.threads) threads; run folder \(folder)"
}

/// Trains with a progress bar and a run folder (resuming from its state when asked), then prints
/// the report, the time to accuracy and, with a profiler, the kernel times.
func runAndReport(_ trainer: Trainer, folder: String, resuming: Bool, skippedWhileLoading: [SkippedFile],
                  profiler: ProfilingBackend?) throws {
    let statePath = RunFolderCallback.statePath(in: folder)
    let resumable = resuming && FileManager.default.fileExists(atPath: statePath)
    let done = resumable ? try TrainingState.savedSummaries(at: statePath) : []
    if resumable { print("resuming after epoch \(done.count) from \(statePath)") }
    let runFolder = try RunFolderCallback(directory: folder, options: trainer.options, classNames: trainer.data.classNames,
                                          resumedSummaries: done)
    let progress = ProgressCallback()
    if !skippedWhileLoading.isEmpty {
        try progress.filesSkipped(skippedWhileLoading, epoch: 0)
        try runFolder.filesSkipped(skippedWhileLoading, epoch: 0)
    }
    trainer.callbacks = [progress, runFolder]
    trainer.statePath = statePath
    let result = try trainer.run(resumingFrom: resumable ? statePath : nil)
    print("")
    print(ReportText.render(result.finalEvaluation))
    let reached = [90, 92, 93, 94].map { t in
        result.secondsToAccuracy[t].map { String(format: "%d%% after %.0f s", t, $0) } ?? "\(t)%: not reached"
    }
    print("time to accuracy (training seconds): " + reached.joined(separator: ", "))
    print("wrote \(folder)/{model.safetensors, metrics.jsonl, report.txt, report.json, predictions.csv}")
    if let profiler {
        print("kernel time (seconds, calls):")
        for row in profiler.report().prefix(30) {
            print(String(format: "  %-40@ %8.2f %8d", row.name as NSString, row.seconds, row.calls))
        }
    }
}
