import CZlib
import Foundation
import XCTest
@testable import TarsierData

final class IDXFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tarsier-idx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func writeRaw(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func writeGzip(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        guard let gz = gzopen(path, "wb") else { throw XCTSkip("gzopen failed") }
        let written = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        gzclose(gz)
        XCTAssertEqual(Int(written), bytes.count)
        return path
    }

    static let small = IDXFile(dimensions: [3, 2, 2], bytes: Array(0..<12).map { UInt8($0 * 20) })

    func testParsesHandMadeBytes() throws {
        let bytes: [UInt8] = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]
        let file = try IDXFile(parsing: bytes)
        XCTAssertEqual(file.dimensions, [2, 3])
        XCTAssertEqual(file.bytes, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(file.encoded(), bytes)
    }

    func testReadsRawAndGzip() throws {
        let raw = try writeRaw(Self.small.encoded(), "small-idx3-ubyte")
        let gz = try writeGzip(Self.small.encoded(), "small-idx3-ubyte.gz")
        XCTAssertEqual(try IDXFile.read(contentsOf: raw), Self.small)
        XCTAssertEqual(try IDXFile.read(contentsOf: gz), Self.small)
    }

    func assertRejects(_ bytes: [UInt8], _ kind: DatasetError.Kind, gzip: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let path = gzip ? try writeGzip(bytes, "bad.gz") : try writeRaw(bytes, "bad")
        XCTAssertThrowsError(try IDXFile.read(contentsOf: path), file: file, line: line) { error in
            XCTAssertEqual((error as? DatasetError)?.kind, kind, "\(error)", file: file, line: line)
            XCTAssertTrue(String(describing: error).contains(path), "\(error)", file: file, line: line)
        }
    }

    func testRejectsMalformedFiles() throws {
        let good = Self.small.encoded()
        try assertRejects([0, 0], .truncated)
        try assertRejects([1, 0, 8, 1, 0, 0, 0, 0], .badMagic)
        try assertRejects([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], .unsupportedType)
        try assertRejects([0, 0, 8, 0], .invalidDimensions)
        try assertRejects([0, 0, 8, 3, 0, 0, 0, 2], .truncated)
        try assertRejects(Array(good.dropLast()), .truncated)
        try assertRejects(Array(good.dropLast()), .truncated, gzip: true)
        try assertRejects(good + [0], .trailingData)
        try assertRejects([0, 0, 8, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4], .invalidDimensions)
        // Small files declaring a terabyte fail fast without allocating it, raw or compressed.
        let huge: [UInt8] = [0, 0, 8, 2, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF] + [UInt8](repeating: 7, count: 1000)
        try assertRejects(huge, .truncated)
        try assertRejects(huge, .truncated, gzip: true)
    }

    func testRejectsCorruptGzip() throws {
        let path = try writeGzip(Self.small.encoded(), "corrupt.gz")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertGreaterThan(bytes.count, 20)
        bytes.removeLast(10)   // cut into the deflate stream and trailer
        try bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        XCTAssertThrowsError(try IDXFile.read(contentsOf: path)) { error in
            XCTAssertTrue(String(describing: error).contains(path))
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try IDXFile.read(contentsOf: directory + "/absent")) { error in
            XCTAssertEqual((error as? DatasetError)?.kind, .unreadable)
        }
    }
}

final class FashionMNISTTests: XCTestCase {
    func testMissingDatasetExplainsHowToInstall() throws {
        let directory = NSTemporaryDirectory() + "tarsier-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        XCTAssertThrowsError(try FashionMNIST.load(directory: directory, split: .train)) { error in
            XCTAssertEqual((error as? DatasetError)?.kind, .notFound)
            let message = String(describing: error)
            XCTAssertTrue(message.contains("not found in \(directory)"), message)
            XCTAssertTrue(message.contains("apt-get install dataset-fashion-mnist"), message)
            XCTAssertTrue(message.contains("--data DIR"), message)
        }
    }

    func testLoadsSmallDatasetWithAndWithoutGzip() throws {
        let directory = NSTemporaryDirectory() + "tarsier-mini-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let images = IDXFile(dimensions: [2, 3, 3], bytes: Array(0..<18))
        try Data(images.encoded()).write(to: URL(fileURLWithPath: directory + "/t10k-images-idx3-ubyte"))
        guard let gz = gzopen(directory + "/t10k-labels-idx1-ubyte.gz", "wb") else { return XCTFail("gzopen") }
        let labels = IDXFile(dimensions: [2], bytes: [9, 3]).encoded()
        _ = labels.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        gzclose(gz)
        let set = try FashionMNIST.load(directory: directory, split: .test)
        XCTAssertEqual(set.count, 2)
        XCTAssertEqual([set.channels, set.height, set.width], [1, 3, 3])
        XCTAssertEqual(set.labels, [9, 3])
        XCTAssertEqual(Array(set.image(at: 1)), Array(9..<18))

        let badLabels = IDXFile(dimensions: [2], bytes: [9, 10]).encoded()
        try Data(badLabels).write(to: URL(fileURLWithPath: directory + "/t10k-labels-idx1-ubyte"))
        XCTAssertThrowsError(try FashionMNIST.load(directory: directory, split: .test)) { error in
            XCTAssertEqual((error as? DatasetError)?.kind, .inconsistent)
            XCTAssertTrue(String(describing: error).contains("t10k-labels-idx1-ubyte"))
        }
    }

    func testRealFashionMNIST() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
        }
        let train = try FashionMNIST.load(split: .train)
        let test = try FashionMNIST.load(split: .test)
        XCTAssertEqual(train.count, 60000)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(train.images.count, 60000 * 28 * 28)
        XCTAssertEqual([train.channels, train.height, train.width], [1, 28, 28])
        XCTAssertEqual(train.labelHistogram(), [Int](repeating: 6000, count: 10))
        XCTAssertEqual(test.labelHistogram(), [Int](repeating: 1000, count: 10))
        XCTAssertEqual(train.classNames[0], "T-shirt/top")
        XCTAssertEqual(train.classNames[9], "Ankle boot")
        // The first training and test images are ankle boots.
        XCTAssertEqual(train.labels[0], 9)
        XCTAssertEqual(test.labels[0], 9)
        // Mean pixel of the training set, scaled, is the published 0.2860.
        var sum = 0
        train.images.withUnsafeBufferPointer { pixels in
            for pixel in pixels { sum += Int(pixel) }
        }
        XCTAssertEqual(Double(sum) / Double(train.images.count) / 255, 0.2860, accuracy: 0.0001)
    }
}
