import ArgumentParser
import Tarsier

/// The options of training on image files, shared by `train` and `finetune`.
struct FolderOptionsGroup: ParsableArguments {
    @Option(name: .customLong("image-size"), help: "Input side in pixels (default: the images' own size up to 64, else 224).")
    var imageSize: Int?
    @Option(help: "1 (grey) or 3 (RGB); default: grey when the first image is grey.") var channels: Int?
    @Option(name: .customLong("val-fraction"), help: "Part of each class held out when there is no val/ or test/ folder.")
    var validationFraction: Double?
    @Option(help: "auto, crop-flip, resized-crop-flip, trivial, none.") var augment: String?
    @Option(help: "dataset (measured mean/std) or imagenet.") var normalize: String?
    @Option(help: "Decoding threads.") var workers: Int?
    @Option(name: .customLong("bad-files"), help: "skip (report and continue, up to --max-bad-fraction) or fail.")
    var badFiles: String?
    @Option(name: .customLong("max-bad-fraction"), help: "Most files per epoch that may be skipped (default 0.01).")
    var maxBadFraction: Double?

    /// `base` (or the defaults for `root`) with the options given on the command line.
    func apply(to base: FolderDataOptions?, root: String) -> FolderDataOptions {
        var options = base ?? FolderDataOptions(root: root)
        if let imageSize { options.imageSize = imageSize }
        if let channels { options.channels = channels }
        if let validationFraction { options.validationFraction = validationFraction }
        if let augment { options.augmentation = augment }
        if let normalize { options.normalization = normalize }
        if let workers { options.workers = workers }
        if let badFiles { options.badFiles = badFiles }
        if let maxBadFraction { options.maxBadFraction = maxBadFraction }
        return options
    }
}
