import Foundation

/// CIFAR-10 and CIFAR-100 in their binary versions (`cifar-10-batches-bin`, `cifar-100-binary`):
/// 32x32 colour images stored as a label byte (two for CIFAR-100: coarse, fine) and 3,072 pixel
/// bytes, red plane then green then blue.
public enum CIFAR {
    /// Which CIFAR.
    public enum Variant: Sendable {
        /// 10 classes; files `data_batch_1.bin` to `data_batch_5.bin` and `test_batch.bin`.
        case cifar10
        /// 100 fine classes; files `train.bin` and `test.bin`.
        case cifar100

        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var classCount: Int { self == .cifar10 ? 10 : 100 }
        var namesFile: String { self == .cifar10 ? "batches.meta.txt" : "fine_label_names.txt" }

        func files(_ split: DatasetSplit) -> [String] {
            switch (self, split) {
            case (.cifar10, .train): return (1...5).map { "data_batch_\($0).bin" }
            case (.cifar10, .test): return ["test_batch.bin"]
            case (.cifar100, .train): return ["train.bin"]
            case (.cifar100, .test): return ["test.bin"]
            }
        }
    }

    /// CIFAR-10's class names, used when `batches.meta.txt` is absent.
    public static let cifar10ClassNames = ["airplane", "automobile", "bird", "cat", "deer",
                                           "dog", "frog", "horse", "ship", "truck"]
    /// Per-channel means of CIFAR-10's training pixels in [0, 1].
    public static let cifar10Mean: [Float] = [0.4914, 0.4822, 0.4465]
    /// Per-channel standard deviations of CIFAR-10's training pixels.
    public static let cifar10Std: [Float] = [0.2470, 0.2435, 0.2616]

    /// Loads a split into memory; class names come from the names file beside the batches when present.
    /// - Throws: `DatasetError` naming the file that is missing or whose size is not a whole number of records.
    public static func load(_ variant: Variant, directory: String, split: DatasetSplit) throws -> ImageClassificationSet {
        let recordSize = variant.labelBytes + 3072
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for name in variant.files(split) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DatasetError(kind: .notFound, file: path,
                                   detail: "'\(path)' is missing; extract the binary version of CIFAR into '\(directory)'")
            }
            guard !data.isEmpty, data.count % recordSize == 0 else {
                throw DatasetError(kind: .truncated, file: path,
                                   detail: "\(data.count) bytes is not a whole number of \(recordSize)-byte records; "
                                       + "the file is damaged or not a CIFAR binary batch")
            }
            let bytes = [UInt8](data)
            pixels.reserveCapacity(pixels.count + bytes.count)
            for start in stride(from: 0, to: bytes.count, by: recordSize) {
                let label = Int(bytes[start + variant.labelBytes - 1])
                guard label < variant.classCount else {
                    throw DatasetError(kind: .inconsistent, file: path,
                                       detail: "record \(start / recordSize) has label \(label), outside 0..<\(variant.classCount)")
                }
                labels.append(label)
                pixels.append(contentsOf: bytes[(start + variant.labelBytes)..<(start + recordSize)])
            }
        }
        let namesPath = (directory as NSString).appendingPathComponent(variant.namesFile)
        var classNames = variant == .cifar10 ? cifar10ClassNames : (0..<100).map(String.init)
        if let data = FileManager.default.contents(atPath: namesPath), let text = String(data: data, encoding: .utf8) {
            let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            if names.count == variant.classCount { classNames = names }
        }
        return ImageClassificationSet(images: pixels, labels: labels, channels: 3, height: 32, width: 32,
                                      classNames: classNames)
    }
}
