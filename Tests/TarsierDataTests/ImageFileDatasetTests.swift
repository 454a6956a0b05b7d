import Foundation
import XCTest
import TarsierImage
import TarsierSupport
@testable import TarsierData

/// Adds a random brightness offset drawn from the generator, so tests can see that every image
/// gets its own seeded draw.
private struct RandomOffset: ImageTransform {
    func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let offset = UInt8(generator.nextInt(below: 50))
        guard let bytes = image.bytes else { return image }
        return Image(width: image.width, height: image.height, format: image.format,
                     bytes: bytes.map { $0 &+ offset })
    }
}

final class ImageFileDatasetTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "tarsier-files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func touch(_ relative: String, _ contents: String = "x") throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// A 4x3 grey PNG whose pixels all equal `value`.
    private func writePNG(_ relative: String, value: UInt8, width: Int = 4, height: Int = 3) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try ImageCodec.write(Image(width: width, height: height, format: .gray, filledWith: value), to: path)
    }

    func testImageFolderOrdersClassesAndFilesAsTorchvision() throws {
        for file in ["b/1.png", "a/10.png", "a/1.png", "a/Z.PNG", "a/x/2.jpg", "a/readme.txt", "a/.hidden.png",
                     "B/3.jpeg", "\u{e9}t\u{e9}/4.png"] {
            try touch(file)
        }
        try FileManager.default.createDirectory(atPath: root + "/.cache", withIntermediateDirectories: true)
        let dataset = try ImageFolder.load(root: root)
        // Code-point order, as Python's sorted(): upper case before lower case before accents.
        XCTAssertEqual(dataset.classNames, ["B", "a", "b", "\u{e9}t\u{e9}"])
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(root.count + 1)) },
                       ["B/3.jpeg", "a/1.png", "a/10.png", "a/Z.PNG", "a/x/2.jpg", "b/1.png", "\u{e9}t\u{e9}/4.png"])
        XCTAssertEqual(dataset.samples.map(\.label), [0, 1, 1, 1, 1, 2, 3])
        XCTAssertEqual(dataset.labelHistogram(), [1, 4, 1, 1])
    }

    func testImageFolderErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try ImageFolder.load(root: root + "/missing")) { error in
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
        XCTAssertThrowsError(try ImageFolder.load(root: root)) { error in
            XCTAssertTrue("\(error)".contains("no subfolders"), "\(error)")
        }
        try touch("cats/1.jpg")
        try touch("dogs/notes.txt")
        XCTAssertThrowsError(try ImageFolder.load(root: root)) { error in
            XCTAssertTrue("\(error)".contains("'dogs'"), "\(error)")
        }
    }

    func testCSVListWithHeaderQuotesAndNames() throws {
        try touch("list.csv", "path,label\nimg/a.png,cat\n\"img/b,c.png\",dog\n/abs/d.png,cat\n\n")
        let dataset = try LabelledFileList.load(path: root + "/list.csv")
        XCTAssertEqual(dataset.classNames, ["cat", "dog"])
        XCTAssertEqual(dataset.samples, [.init(path: root + "/img/a.png", label: 0),
                                         .init(path: root + "/img/b,c.png", label: 1),
                                         .init(path: "/abs/d.png", label: 0)])
    }

    func testTSVListWithNumericLabels() throws {
        try touch("list.tsv", "a.png\t2\nb.png\t0\n")
        let dataset = try LabelledFileList.load(path: root + "/list.tsv")
        XCTAssertEqual(dataset.classNames, ["0", "1", "2"])
        XCTAssertEqual(dataset.samples.map(\.label), [2, 0])
    }

    func testListErrorsNameTheLine() throws {
        try touch("bad.csv", "a.png,cat\nb.png\n")
        XCTAssertThrowsError(try LabelledFileList.load(path: root + "/bad.csv")) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
            XCTAssertTrue("\(error)".contains("bad.csv"), "\(error)")
        }
        XCTAssertThrowsError(try LabelledFileList.load(path: root + "/none.csv"))
    }

    func testStratifiedSeededSplit() throws {
        let samples = (0..<30).map { ImageFileDataset.Sample(path: "f\($0)", label: $0 < 20 ? 0 : 1) }
            + [ImageFileDataset.Sample(path: "single", label: 2)]
        let dataset = ImageFileDataset(samples: samples, classNames: ["a", "b", "c"], source: "mem")
        let (train, validation) = try dataset.split(validationFraction: 0.2, seed: 7)
        XCTAssertEqual(validation.labelHistogram(), [4, 2, 0])
        XCTAssertEqual(train.labelHistogram(), [16, 8, 1])
        XCTAssertEqual(Set(train.samples.map(\.path) + validation.samples.map(\.path)).count, 31)
        let again = try dataset.split(validationFraction: 0.2, seed: 7)
        XCTAssertEqual(again.validation, validation)
        let other = try dataset.split(validationFraction: 0.2, seed: 8)
        XCTAssertNotEqual(other.validation, validation)
        XCTAssertThrowsError(try dataset.split(validationFraction: 1, seed: 0))
    }

    func testCIFAR10BinaryBatches() throws {
        func record(label: UInt8, value: UInt8) -> [UInt8] { [label] + [UInt8](repeating: value, count: 3072) }
        for k in 1...5 {
            try Data(record(label: UInt8(k), value: UInt8(10 * k)) + record(label: 0, value: 1))
                .write(to: URL(fileURLWithPath: root + "/data_batch_\(k).bin"))
        }
        try Data(record(label: 9, value: 200)).write(to: URL(fileURLWithPath: root + "/test_batch.bin"))
        let train = try CIFAR.load(.cifar10, directory: root, split: .train)
        XCTAssertEqual(train.count, 10)
        XCTAssertEqual(train.labels, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
        XCTAssertEqual(train.image(at: 2).first, 20)
        XCTAssertEqual(train.classNames[9], "truck")
        let test = try CIFAR.load(.cifar10, directory: root, split: .test)
        XCTAssertEqual(test.labels, [9])
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/test_batch.bin"))
        XCTAssertThrowsError(try CIFAR.load(.cifar10, directory: root, split: .test)) { error in
            XCTAssertTrue("\(error)".contains("test_batch.bin"), "\(error)")
        }
    }

    private func folderOfPNGs(count: Int) throws -> ImageFileDataset {
        for i in 0..<count { try writePNG("\(i % 2 == 0 ? "even" : "odd")/\(i).png", value: UInt8(i * 10)) }
        return try ImageFolder.load(root: root)
    }

    private func allBatches(_ loader: ImageFileLoader, epoch: Int) throws -> [Batch] {
        try loader.batches(epoch: epoch).remainingBatches()
    }

    func testLoaderIsTheSameForAnyThreadCount() throws {
        let dataset = try folderOfPNGs(count: 11)
        let pipeline = TransformPipeline([RandomOffset()])
        func loader(workers: Int) -> ImageFileLoader {
            ImageFileLoader(dataset: dataset, transforms: pipeline, batchSize: 4, seed: 3, workers: workers,
                            prefetch: 1, pixelFormat: .gray)
        }
        let serial = try allBatches(loader(workers: 0), epoch: 1)
        XCTAssertEqual(serial.map(\.count), [4, 4, 3])
        XCTAssertEqual(serial[0].shape, [4, 1, 3, 4])
        XCTAssertEqual(Set(serial.flatMap(\.indices)).count, 11)
        for workers in [1, 3] {
            XCTAssertEqual(try allBatches(loader(workers: workers), epoch: 1), serial, "\(workers) workers")
        }
        XCTAssertNotEqual(try allBatches(loader(workers: 2), epoch: 2).flatMap(\.indices), serial.flatMap(\.indices))
        // Labels follow the files: even-numbered files are class "even" (0).
        for batch in serial {
            for (index, label) in zip(batch.indices, batch.labels) {
                XCTAssertEqual(label, dataset.samples[index].label)
            }
        }
        var dropping = loader(workers: 2)
        dropping.dropLast = true
        XCTAssertEqual(try allBatches(dropping, epoch: 1).map(\.count), [4, 4])
    }

    func testBadFilesAreSkippedAndReportedOrFail() throws {
        var dataset = try folderOfPNGs(count: 6)
        try touch("odd/broken.png", "this is not a picture")
        dataset = try ImageFolder.load(root: root)
        let broken = root + "/odd/broken.png"
        let pipeline = TransformPipeline([])
        let skipping = ImageFileLoader(dataset: dataset, transforms: pipeline, batchSize: 7, shuffle: false,
                                       workers: 2, pixelFormat: .gray)
        let stream = skipping.batches(epoch: 0)
        let batch = try XCTUnwrap(stream.next())
        XCTAssertEqual(batch.count, 6)
        XCTAssertNil(try stream.next())
        XCTAssertEqual(stream.skippedFiles.map(\.path), [broken])
        XCTAssertTrue(stream.skippedFiles[0].reason.contains("broken.png"), stream.skippedFiles[0].reason)

        var failing = skipping
        failing.badFiles = .fail
        XCTAssertThrowsError(try allBatches(failing, epoch: 0)) { error in
            XCTAssertTrue("\(error)".contains("broken.png"), "\(error)")
        }

        try touch("even/empty.png", "")
        let twoBad = ImageFileLoader(dataset: try ImageFolder.load(root: root), transforms: pipeline, batchSize: 3,
                                     workers: 1, pixelFormat: .gray, badFiles: .skip(maxFraction: 0.01))
        XCTAssertThrowsError(try allBatches(twoBad, epoch: 0)) { error in
            XCTAssertEqual((error as? DatasetError)?.kind, .tooManyBadFiles, "\(error)")
        }
    }

    func testImagesOfDifferentSizesNameTheFile() throws {
        try writePNG("a/small.png", value: 1, width: 2, height: 2)
        try writePNG("a/wide.png", value: 1, width: 5, height: 2)
        let loader = ImageFileLoader(dataset: try ImageFolder.load(root: root), transforms: TransformPipeline([]),
                                     batchSize: 2, shuffle: false, workers: 0, pixelFormat: .gray)
        XCTAssertThrowsError(try allBatches(loader, epoch: 0)) { error in
            XCTAssertTrue("\(error)".contains("wide.png") && "\(error)".contains("1x2x5"), "\(error)")
        }
    }

    func testExportWritesAnImageFolderThatLoadsBack() throws {
        let pixels: [UInt8] = (0..<(4 * 3 * 2 * 2)).map { UInt8($0 * 5) }
        let set = ImageClassificationSet(images: pixels, labels: [0, 1, 1, 0], channels: 3, height: 2, width: 2,
                                         classNames: ["T-shirt/top", "bag"])
        XCTAssertEqual(try ImageFolderExport.write(set, to: root), 4)
        let dataset = try ImageFolder.load(root: root)
        XCTAssertEqual(dataset.classNames, ["T-shirt-top", "bag"])
        XCTAssertEqual(dataset.samples.map { ($0.path as NSString).lastPathComponent }, ["00000.png", "00003.png",
                                                                                         "00001.png", "00002.png"])
        let image = try ImageCodec.decode(contentsOf: dataset.samples[2].path)
        XCTAssertEqual(image.format, .rgb)
        // Image 1 is planar in the set; the PNG is interleaved.
        let planar = Array(set.image(at: 1))
        XCTAssertEqual(image.bytes, (0..<4).flatMap { p in (0..<3).map { planar[$0 * 4 + p] } })
    }
}
