import ArgumentParser
import Foundation
import Tarsier

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Dataset tools.", subcommands: [ExportImageFolderCommand.self, DataBenchCommand.self])
}

struct ExportImageFolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-imagefolder",
        abstract: "Write Fashion-MNIST as an ImageFolder of PNG files: OUTPUT/train/<class>/NNNNN.png and OUTPUT/test/...")

    @Option(help: "The folder to write.") var output: String
    @Option(help: "Fashion-MNIST directory (IDX files).") var data = FashionMNIST.defaultDirectory
    @Option(help: "Write only the first N images of each split.") var limit: Int?
    @Option(help: "Only these class indices, comma-separated (e.g. 0,1,2,3,4).") var classes: String?
    @Option(name: .customLong("train-per-class"), help: "Only the first N training images of each class.")
    var trainPerClass: Int?

    func run() throws {
        runReportingErrors {
            var chosen: Set<Int>?
            if let classes {
                let indices = classes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard indices.allSatisfy({ $0.map { (0..<FashionMNIST.classNames.count).contains($0) } ?? false }) else {
                    throw ValidationError("--classes takes indices 0-9 separated by commas, got '\(classes)'")
                }
                chosen = Set(indices.compactMap { $0 })
            }
            for split in DatasetSplit.allCases {
                var set = try FashionMNIST.load(directory: data, split: split)
                var perClass = [Int](repeating: 0, count: set.classNames.count)
                let keep = set.labels.indices.filter { index in
                    let label = set.labels[index]
                    guard chosen?.contains(label) ?? true else { return false }
                    perClass[label] += 1
                    return split == .test || perClass[label] <= (trainPerClass ?? Int.max)
                }
                set = set.subset(keep)
                let root = (output as NSString).appendingPathComponent(split.rawValue)
                let written = try ImageFolderExport.write(set, to: root, limit: limit)
                print("wrote \(written) PNG files to \(root)/<class>/")
            }
        }
    }
}

struct DataBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the image pipeline: decode + RandomResizedCrop(224) + horizontal flip + normalise, in images/s.",
        discussion: "The same work as scripts/data_baseline.py (torchvision with Pillow); scripts/bench_data.sh runs both.")

    @Option(help: "A text file listing image paths, one per line.") var files: String
    @Option(help: "Decoding threads.") var workers = 2
    @Option(help: "Timed passes over the files (after one warm-up pass); the median is reported.") var passes = 5
    @Flag(inversion: .prefixedNo,
          help: "Decode JPEGs at reduced size (k/8) and only around the crop (same random draws, slightly different pixels).")
    var reducedDecoding = true
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        runReportingErrors {
            guard let text = try? String(contentsOfFile: files, encoding: .utf8) else {
                throw ValidationError("cannot read the file list '\(files)'")
            }
            let paths = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            guard !paths.isEmpty else { throw ValidationError("'\(files)' lists no files") }
            let dataset = ImageFileDataset(samples: paths.map { .init(path: $0, label: 0) }, classNames: ["all"],
                                           source: files)
            let pipeline = TransformPipeline([try RandomResizedCrop(224), try RandomHorizontalFlip(p: 0.5)],
                                             planar: [Normalize.imageNet])
            let loader = ImageFileLoader(dataset: dataset, transforms: pipeline, batchSize: 32, shuffle: true,
                                         workers: workers, prefetch: 2, badFiles: .fail,
                                         reducedDecoding: reducedDecoding)
            var rates: [Double] = []
            for pass in 0...max(passes, 1) {
                let start = DispatchTime.now().uptimeNanoseconds
                let batches = loader.batches(epoch: pass)
                var count = 0
                while let batch = try batches.next() { count += batch.count }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                if pass > 0 { rates.append(Double(count) / seconds) }  // pass 0 warms the page cache
            }
            let median = rates.sorted()[rates.count / 2]
            if json {
                let runs = rates.map { String(format: "%.1f", $0) }.joined(separator: ", ")
                print("{\"images_per_second\": \(String(format: "%.1f", median)), \"runs\": [\(runs)], "
                      + "\"workers\": \(workers), \"images\": \(paths.count), \"reduced_decoding\": \(reducedDecoding)}")
            } else {
                print(String(format: "%.1f images/s (median of %d passes over %d files, %d workers",
                             median, rates.count, paths.count, workers)
                      + (reducedDecoding ? ")" : ", full-size decoding)"))
            }
        }
    }
}
