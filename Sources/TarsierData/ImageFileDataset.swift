import Foundation
import TarsierSupport

/// Labelled image files on disk: what ImageFolder, a CSV list or a split of either produce.
/// Files are decoded only when a loader asks for them.
public struct ImageFileDataset: Sendable, Equatable {
    /// One labelled file.
    public struct Sample: Sendable, Equatable, Codable {
        /// The file's path.
        public var path: String
        /// Its class index, in `0..<classNames.count`.
        public var label: Int

        /// Creates a sample.
        public init(path: String, label: Int) {
            self.path = path
            self.label = label
        }
    }

    /// The files, in a fixed order.
    public var samples: [Sample]
    /// Human-readable class names, indexed by label.
    public var classNames: [String]
    /// Where the dataset came from (a folder or list file), for messages.
    public var source: String

    /// Creates a dataset; labels must lie in `0..<classNames.count` (a programmer error otherwise).
    public init(samples: [Sample], classNames: [String], source: String) {
        precondition(samples.allSatisfy { $0.label >= 0 && $0.label < classNames.count },
                     "labels must lie in 0..<\(classNames.count)")
        self.samples = samples
        self.classNames = classNames
        self.source = source
    }

    /// The number of files.
    public var count: Int { samples.count }

    /// The number of files of each class.
    public func labelHistogram() -> [Int] {
        var histogram = [Int](repeating: 0, count: classNames.count)
        for sample in samples { histogram[sample.label] += 1 }
        return histogram
    }

    /// A dataset of the samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageFileDataset {
        ImageFileDataset(samples: indices.map { samples[$0] }, classNames: classNames, source: source)
    }

    /// Splits off a validation set: `fraction` of each class's files (rounded, at least one where a
    /// class has two or more), chosen by a seeded shuffle, so both parts keep the class balance.
    /// Both parts keep this dataset's order.
    /// - Throws: `DatasetError.inconsistent` when `fraction` is not in (0, 1).
    public func split(validationFraction fraction: Double, seed: UInt64) throws -> (train: ImageFileDataset,
                                                                                     validation: ImageFileDataset) {
        guard fraction > 0, fraction < 1 else {
            throw DatasetError(kind: .inconsistent, file: source,
                               detail: "the validation fraction must lie strictly between 0 and 1, got \(fraction)")
        }
        var byClass = [[Int]](repeating: [], count: classNames.count)
        for (index, sample) in samples.enumerated() { byClass[sample.label].append(index) }
        var isValidation = [Bool](repeating: false, count: samples.count)
        for (label, indices) in byClass.enumerated() where indices.count > 1 {
            var generator = SeededGenerator(seed: mixSeed(seed, UInt64(label), 0x5350_4C54))
            var shuffled = indices
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
                shuffled.swapAt(i, generator.nextInt(below: i + 1))
            }
            let take = min(indices.count - 1, max(1, Int((Double(indices.count) * fraction).rounded())))
            for index in shuffled.prefix(take) { isValidation[index] = true }
        }
        let all = Array(samples.indices)
        return (subset(all.filter { !isValidation[$0] }), subset(all.filter { isValidation[$0] }))
    }
}

/// Orders strings by Unicode code points, as Python's `sorted` does, so class indices match torchvision.
func codePointOrder(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
}
