import Foundation
import TarsierImage
import XCTest

/// What one fixture file must decode to (see scripts/make_image_golden.py).
struct CodecExpectation: Decodable {
    let file: String
    let width: Int
    let height: Int
    let format: String
    let bitDepth: Int
    let samples: [Int]
    /// The `as` format for conversion cases.
    let `as`: String?
    /// The largest sample difference allowed (0: exact).
    let tolerance: Int?
    /// The EXIF orientation the JPEG carries.
    let orientation: Int?
}

/// A darknet photograph and Pillow's pixels of every `rowStep`-th row.
struct DarknetReference: Decodable {
    let file: String
    let width: Int
    let height: Int
    let rowStep: Int
    let reference: String
    let fnv1a64: String
    let sampleSum: Int
}

struct CodecManifest: Decodable {
    let png: [CodecExpectation]
    let pngConversions: [CodecExpectation]
    let jpeg: [CodecExpectation]
    let darknet: [DarknetReference]
}

enum CodecFixtures {
    /// Tests/TarsierImageTests/Fixtures/codec inside the test bundle.
    static func folder() throws -> URL {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw CodecTestError("the test bundle has no Fixtures folder")
        }
        return fixtures.appendingPathComponent("codec")
    }

    static func path(_ relative: String) throws -> String {
        try folder().appendingPathComponent(relative).path
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        let file = try path(relative)
        guard let data = FileManager.default.contents(atPath: file) else { throw CodecTestError("cannot read \(file)") }
        return [UInt8](data)
    }

    static func manifest() throws -> CodecManifest {
        let data = try Data(contentsOf: try folder().appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(CodecManifest.self, from: data)
    }

    /// `.testdata/darknet` in the repository root (three levels above this file). Fails the
    /// calling test, rather than skipping it, when the photographs have not been fetched.
    static func darknetFolder(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let root = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent(".testdata/darknet").path
        guard FileManager.default.fileExists(atPath: folder + "/dog.jpg") else {
            XCTFail("the darknet test photographs are missing from \(folder); run scripts/fetch_test_images.sh",
                    file: file, line: line)
            throw CodecTestError("missing \(folder)")
        }
        return folder
    }

    static func pixelFormat(_ name: String) throws -> PixelFormat {
        switch name {
        case "gray": return .gray
        case "grayAlpha": return .grayAlpha
        case "rgb": return .rgb
        case "rgba": return .rgba
        default: throw CodecTestError("unknown pixel format \(name)")
        }
    }
}

struct CodecTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Image {
    /// Every sample as an Int, whatever the depth.
    var allSamples: [Int] {
        switch pixels {
        case .eight(let samples): return samples.map(Int.init)
        case .sixteen(let samples): return samples.map(Int.init)
        }
    }
}

/// Comparisons of decoded samples with the references.
enum CodecCompare {
    /// Mean absolute difference of two equally long sample lists.
    static func meanAbsoluteDifference(_ a: [Int], _ b: [Int]) -> Double {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) samples")
        guard !a.isEmpty else { return 0 }
        var total = 0
        for i in a.indices { total += abs(a[i] - b[i]) }
        return Double(total) / Double(a.count)
    }

    /// The largest absolute difference of two equally long sample lists.
    static func maxAbsoluteDifference(_ a: [Int], _ b: [Int]) -> Int {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) samples")
        var worst = 0
        for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
        return worst
    }

    /// FNV-1a (64-bit) of a byte list, as the golden script computes it.
    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return hash
    }
}

/// Runs `body` and returns the `ImageError` it throws, failing the test if it returns normally
/// or throws anything else.
@discardableResult
func expectImageError(_ context: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Any) -> ImageError? {
    do {
        _ = try body()
        XCTFail("\(context()): no error thrown", file: file, line: line)
    } catch let error as ImageError {
        return error
    } catch {
        XCTFail("\(context()): threw \(type(of: error)) \(error), not ImageError", file: file, line: line)
    }
    return nil
}
