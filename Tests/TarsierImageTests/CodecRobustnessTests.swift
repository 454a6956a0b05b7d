import Foundation
import TarsierSupport
import XCTest
@testable import TarsierImage

final class CodecRobustnessTests: XCTestCase {
    /// Files whose every prefix is tried (all under 9 KB, so every length is cheap).
    private let prefixCases = [
        "png/rgb8.png", "png/palette4_trns.png", "png/rgba16_interlaced.png", "png/pillow_photo.png",
        "jpeg/orientation6.jpg", "jpeg/gray.jpg", "jpeg/cmyk.jpg", "jpeg/progressive.jpg",
    ]

    /// A file cut anywhere is an `ImageError` naming the file, never a crash or a grey-padded
    /// image; the cut-off ones are mostly reported as `.truncated`.
    func testEveryTruncatedPrefixThrows() throws {
        for file in prefixCases {
            let bytes = try CodecFixtures.bytes(file)
            XCTAssertNoThrow(try ImageCodec.decode(bytes, name: file), file)
            var kinds: [ImageError.Kind: Int] = [:]
            for length in 0..<bytes.count {
                let name = "\(file)[..<\(length)]"
                guard let error = expectImageError(name, { try ImageCodec.decode(Array(bytes[..<length]), name: name) })
                else { continue }
                kinds[error.kind, default: 0] += 1
                XCTAssertTrue(error.description.contains(name), "\(error) does not name the file")
                if length == 0 { XCTAssertEqual(error.kind, .empty) }
            }
            let truncated = kinds[.truncated, default: 0]
            XCTAssertGreaterThan(truncated * 10, bytes.count * 9, "\(file): \(kinds)")
        }
    }

    /// Single random bit flips and byte changes either decode to the size the damaged file
    /// declares or throw an `ImageError`; each decode finishes quickly.
    func testRandomCorruptionNeverCrashes() throws {
        var random = SeededGenerator(seed: 20_240_601)
        var outcomes: [String: Int] = [:]
        let files = ["png/rgb8.png", "png/pillow_palette.png", "jpeg/orientation3.jpg", "jpeg/progressive.jpg"]
        for file in files {
            let original = try CodecFixtures.bytes(file)
            for trial in 0..<200 {
                var bytes = original
                let at = random.nextInt(below: bytes.count)
                if trial % 2 == 0 {
                    bytes[at] ^= UInt8(1) << UInt8(random.nextInt(below: 8))
                } else {
                    bytes[at] = UInt8(truncatingIfNeeded: random.next())
                }
                let name = "\(file)#\(trial)"
                let start = Date()
                do {
                    let image = try ImageCodec.decode(bytes, name: name, applyEXIFOrientation: false)
                    let declared = try declaredSize(bytes, name: name)
                    XCTAssertEqual([image.width, image.height], [declared.width, declared.height], name)
                    outcomes["decoded", default: 0] += 1
                } catch let error as ImageError {
                    XCTAssertTrue(error.description.contains(name), "\(error)")
                    outcomes[error.kind.rawValue, default: 0] += 1
                } catch {
                    XCTFail("\(name): threw \(error), not ImageError")
                }
                XCTAssertLessThan(Date().timeIntervalSince(start), 2, "\(name) took too long")
            }
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), 800)
        print("random corruption outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }

    private func declaredSize(_ bytes: [UInt8], name: String) throws -> (width: Int, height: Int) {
        switch ImageFileFormat.detect(bytes) {
        case .png?:
            let be = { (at: Int) in bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
            return (be(16), be(20))
        case .jpeg?:
            let header = try bytes.withUnsafeBufferPointer { try JPEGHeader.parse($0, name: name) }
            return (header.width, header.height)
        case nil:
            throw CodecTestError("\(name) decoded without a signature")
        }
    }

    /// Files declaring enormous sizes fail with `.tooLarge` before any pixel memory exists.
    func testHugeDeclaredSizesFailFast() throws {
        for (file, size) in [("huge/side_100000.png", "100000x100000"), ("huge/area_60000.png", "60000x60000"),
                             ("huge/side_65000.jpg", "65000x65000")] {
            let path = try CodecFixtures.path(file)
            XCTAssertLessThan(try CodecFixtures.bytes(file).count, 1200)
            let start = Date()
            let error = expectImageError(file) { try ImageCodec.decode(contentsOf: path) }
            XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, file)
            XCTAssertEqual(error?.kind, .tooLarge, file)
            XCTAssertTrue(error?.description.contains(size) ?? false, "\(error.map { "\($0)" } ?? "")")
            XCTAssertTrue(error?.description.contains(path) ?? false)
        }
        // Caller-chosen limits apply to both formats.
        let tight = DecodeLimits(maxPixels: 50, maxDimension: 1000)
        let narrow = DecodeLimits(maxPixels: 1_000_000, maxDimension: 12)
        for file in ["png/rgb8.png", "jpeg/gray.jpg"] {
            let path = try CodecFixtures.path(file)
            for limits in [tight, narrow] {
                let error = expectImageError(file) { try ImageCodec.decode(contentsOf: path, limits: limits) }
                XCTAssertEqual(error?.kind, .tooLarge, "\(file) with \(limits)")
            }
        }
    }

    func testFileErrorsNameTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tarsier-codec-errors-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String, _ bytes: [UInt8]) -> String {
            let path = folder.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }
        let cases: [(String, ImageError.Kind, String?)] = [
            (file("empty.jpg", []), .empty, nil),
            (file("notes.png", Array("just some text\n".utf8)), .unsupported, "JPEG and PNG"),
            (file("anim.jpg", Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20)), .unsupported, "GIF"),
            (file("cut.png", [0x89, 0x50, 0x4E]), .truncated, nil),
            (folder.appendingPathComponent("missing.png").path, .unreadable, nil),
            (folder.path, .unreadable, "directory"),
        ]
        for (path, kind, phrase) in cases {
            let error = expectImageError(path) { try ImageCodec.decode(contentsOf: path) }
            XCTAssertEqual(error?.kind, kind, path)
            XCTAssertTrue(error?.description.contains(path) ?? false, "\(String(describing: error))")
            if let phrase { XCTAssertTrue(error?.description.contains(phrase) ?? false, "\(String(describing: error))") }
        }
        // A damaged critical chunk is corrupt, not truncated.
        var png = try CodecFixtures.bytes("png/rgb8.png")
        png[23] ^= 0x01  // IHDR height 7 -> 6, so its CRC no longer matches
        XCTAssertEqual(expectImageError("bad CRC") { try ImageCodec.decode(png, name: "bad CRC") }?.kind, .corrupt)
    }
}
