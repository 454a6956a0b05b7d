import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which part of a dataset to load.
public enum DatasetSplit: String, Sendable, CaseIterable {
    /// The training images.
    case train
    /// The held-out test images.
    case test
}

/// Fashion-MNIST: 70,000 28x28 grey-scale images of clothing in 10 classes.
public enum FashionMNIST {
    /// Where the Debian package `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The class names, indexed by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// Mean of the training pixels scaled to [0, 1].
    public static let mean: Float = 0.2860
    /// Standard deviation of the training pixels scaled to [0, 1].
    public static let std: Float = 0.3530

    /// Whether `path` is a folder holding (Fashion-)MNIST IDX files rather than images.
    public static func isIDXDirectory(_ path: String) -> Bool {
        ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
         "t10k-images-idx3-ubyte.gz"].contains { access((path as NSString).appendingPathComponent($0), F_OK) == 0 }
    }

    /// Loads a split from IDX files, gzip-compressed or not.
    /// - Parameters:
    ///   - directory: The folder holding `train-images-idx3-ubyte[.gz]` and the other files.
    ///   - split: `.train` (60,000 images) or `.test` (10,000 images).
    /// - Throws: `DatasetError`; when the files are missing, its message says how to install them.
    public static func load(directory: String = defaultDirectory, split: DatasetSplit) throws
        -> ImageClassificationSet {
        try MNISTFormat.load(directory: directory, split: split, datasetName: "Fashion-MNIST",
                             classNames: classNames,
                             installHint: "install it with `apt-get install dataset-fashion-mnist`")
    }
}

/// MNIST: 70,000 28x28 grey-scale images of handwritten digits.
public enum MNIST {
    /// The conventional location of the IDX files on this system.
    public static let defaultDirectory = "/usr/share/datasets/mnist"
    /// The class names "0" to "9".
    public static let classNames = (0..<10).map(String.init)
    /// Mean of the training pixels scaled to [0, 1].
    public static let mean: Float = 0.1307
    /// Standard deviation of the training pixels scaled to [0, 1].
    public static let std: Float = 0.3081

    /// Loads a split from IDX files, gzip-compressed or not.
    /// - Parameters:
    ///   - directory: The folder holding `train-images-idx3-ubyte[.gz]` and the other files.
    ///   - split: `.train` (60,000 images) or `.test` (10,000 images).
    public static func load(directory: String = defaultDirectory, split: DatasetSplit) throws
        -> ImageClassificationSet {
        try MNISTFormat.load(directory: directory, split: split, datasetName: "MNIST", classNames: classNames,
                             installHint: "download the four MNIST IDX files into it")
    }
}

/// The shared file layout of MNIST-style datasets.
public enum MNISTFormat {
    /// The base names of the image and label files of a split.
    public static func fileNames(split: DatasetSplit) -> (images: String, labels: String) {
        switch split {
        case .train: return ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
        case .test: return ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
        }
    }

    /// Loads a split of any MNIST-style dataset.
    /// - Parameters:
    ///   - directory: The folder holding the IDX files.
    ///   - split: Which split.
    ///   - datasetName: The name used in messages.
    ///   - classNames: The class names; every label must index into them.
    ///   - installHint: How to obtain the files, shown when they are missing.
    public static func load(directory: String, split: DatasetSplit, datasetName: String,
                            classNames: [String], installHint: String) throws -> ImageClassificationSet {
        let names = fileNames(split: split)
        func locate(_ base: String) throws -> String {
            let candidates = [base, base + ".gz"].map { directory + "/" + $0 }
            for path in candidates where access(path, R_OK) == 0 { return path }
            throw DatasetError(kind: .notFound, file: directory,
                               detail: "\(datasetName) not found in \(directory) (no \(base) or \(base).gz); "
                                   + "\(installHint) or pass `--data DIR`")
        }
        let imagePath = try locate(names.images)
        let labelPath = try locate(names.labels)
        let imageFile = try IDXFile.read(contentsOf: imagePath)
        let labelFile = try IDXFile.read(contentsOf: labelPath)
        guard imageFile.dimensions.count == 3, imageFile.dimensions[1] > 0, imageFile.dimensions[2] > 0 else {
            throw DatasetError(kind: .invalidDimensions, file: imagePath,
                               detail: "image dimensions \(imageFile.dimensions) are not [count, height, width]")
        }
        guard labelFile.dimensions.count == 1 else {
            throw DatasetError(kind: .invalidDimensions, file: labelPath,
                               detail: "label dimensions \(labelFile.dimensions) are not [count]")
        }
        guard labelFile.dimensions[0] == imageFile.dimensions[0] else {
            throw DatasetError(kind: .inconsistent, file: labelPath,
                               detail: "\(labelFile.dimensions[0]) labels for \(imageFile.dimensions[0]) images "
                                   + "in \(imagePath)")
        }
        var labels = [Int]()
        labels.reserveCapacity(labelFile.bytes.count)
        for (i, byte) in labelFile.bytes.enumerated() {
            guard Int(byte) < classNames.count else {
                throw DatasetError(kind: .inconsistent, file: labelPath,
                                   detail: "label \(byte) of image \(i) is outside 0..<\(classNames.count)")
            }
            labels.append(Int(byte))
        }
        return ImageClassificationSet(images: imageFile.bytes, labels: labels, channels: 1,
                                      height: imageFile.dimensions[1], width: imageFile.dimensions[2],
                                      classNames: classNames)
    }
}
