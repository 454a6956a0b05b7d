import Foundation
import TarsierImage
import TarsierSupport
import XCTest

struct TransformFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A JSON value decoded with `JSONDecoder`, whose number parsing is correctly rounded (Linux
/// Foundation's `JSONSerialization` can be off in the last bit, which matters for exact matrices).
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var double: Double? { if case .number(let v) = self { return v }; return nil }
    var int: Int? { double.flatMap { Int(exactly: $0) } }
    var bool: Bool? { if case .bool(let v) = self { return v }; return nil }
    var string: String? { if case .string(let v) = self { return v }; return nil }
    var array: [JSONValue]? { if case .array(let v) = self { return v }; return nil }
    var object: [String: JSONValue]? { if case .object(let v) = self { return v }; return nil }
    var doubles: [Double]? { array?.compactMap(\.double) }
    var ints: [Int]? { array?.compactMap(\.int) }
}

/// `transform_golden.json`: inputs, torchvision outputs and magnitude tables written by
/// `scripts/make_transform_golden.py`.
struct TransformGolden {
    let inputs: [String: Image]
    let cases: [JSONValue]
    let magnitudes: [String: [String: JSONValue]]
    let versions: [String: String]

    static func load() throws -> TransformGolden {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw TransformFixtureError("the test bundle has no Fixtures folder")
        }
        let data = try Data(contentsOf: folder.appendingPathComponent("transform_golden.json"))
        let root = try JSONDecoder().decode(JSONValue.self, from: data)
        guard let inputs = root["inputs"]?.object, let cases = root["cases"]?.array,
              let magnitudes = root["magnitudes"]?.object else {
            throw TransformFixtureError("transform_golden.json lacks inputs, cases or magnitudes")
        }
        var images: [String: Image] = [:]
        for (name, entry) in inputs { images[name] = try decodeImage(entry) }
        return TransformGolden(inputs: images, cases: cases,
                               magnitudes: magnitudes.compactMapValues(\.object),
                               versions: root["versions"]?.object?.compactMapValues(\.string) ?? [:])
    }

    static func decodeImage(_ entry: JSONValue) throws -> Image {
        guard let width = entry["width"]?.int, let height = entry["height"]?.int,
              let formatName = entry["format"]?.string, let bits = entry["bits"]?.int,
              let text = entry["data"]?.string, let data = Data(base64Encoded: text) else {
            throw TransformFixtureError("bad image entry")
        }
        let formats: [String: PixelFormat] = ["gray": .gray, "grayAlpha": .grayAlpha, "rgb": .rgb, "rgba": .rgba]
        guard let format = formats[formatName] else { throw TransformFixtureError("unknown format \(formatName)") }
        let bytes = [UInt8](data)
        if bits == 8 { return Image(width: width, height: height, format: format, bytes: bytes) }
        let samples = (0..<(bytes.count / 2)).map { UInt16(bytes[2 * $0]) | UInt16(bytes[2 * $0 + 1]) << 8 }
        return Image(width: width, height: height, format: format, pixels: .sixteen(samples))
    }

    static func decodeTensor(_ entry: JSONValue) throws -> (shape: [Int], values: [Float]) {
        guard let shape = entry["shape"]?.ints, let text = entry["data"]?.string,
              let data = Data(base64Encoded: text) else {
            throw TransformFixtureError("bad tensor entry")
        }
        let bytes = [UInt8](data)
        let values = (0..<(bytes.count / 4)).map { i -> Float in
            let bits = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                | UInt32(bytes[4 * i + 3]) << 24
            return Float(bitPattern: bits)
        }
        return (shape, values)
    }
}

/// How far apart two images are.
struct ImageDifference {
    var maxError = 0
    var differing = 0
    var count = 0
    var meanError: Double { count == 0 ? 0 : totalError / Double(count) }
    var totalError = 0.0
}

func samples(_ image: Image) -> [Int] {
    switch image.pixels {
    case .eight(let s): return s.map(Int.init)
    case .sixteen(let s): return s.map(Int.init)
    }
}

/// The sample-wise difference, or nil when size, format or depth differ.
func difference(_ a: Image, _ b: Image) -> ImageDifference? {
    guard a.width == b.width, a.height == b.height, a.format == b.format, a.bitDepth == b.bitDepth else { return nil }
    var d = ImageDifference()
    for (x, y) in zip(samples(a), samples(b)) {
        let e = abs(x - y)
        d.maxError = max(d.maxError, e)
        if e != 0 { d.differing += 1 }
        d.totalError += Double(e)
        d.count += 1
    }
    return d
}

func describe(_ image: Image) -> String { "\(image.width)x\(image.height) \(image.format) \(image.bitDepth)-bit" }

/// A smooth 8-bit test image with noise from a fixed seed.
func makeTestImage(width: Int, height: Int, format: PixelFormat = .rgb, seed: UInt64 = 7) -> Image {
    var generator = SeededGenerator(seed: seed)
    let c = format.channels
    var bytes = [UInt8](repeating: 0, count: width * height * c)
    for y in 0..<height {
        for x in 0..<width {
            for ch in 0..<c {
                let base = ch % 3 == 0 ? 255 * x / max(width - 1, 1) : (ch % 3 == 1 ? 255 * y / max(height - 1, 1) : 128)
                let noise = Int(generator.nextInt(below: 41)) - 20
                bytes[(y * width + x) * c + ch] = UInt8(clamping: base + noise)
            }
        }
    }
    return Image(width: width, height: height, format: format, bytes: bytes)
}

/// The same picture at 16 bits (each sample times 257).
func sixteenBit(_ image: Image) -> Image {
    Image(width: image.width, height: image.height, format: image.format,
          pixels: .sixteen(samples(image).map { UInt16($0 * 257) }))
}

/// Asserts that `body` throws a `TransformError` naming `parameter`.
func assertTransformError(_ parameter: String, file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a TransformError about '\(parameter)'", file: file, line: line)
    } catch let error as TransformError {
        XCTAssertEqual(error.parameter, parameter, "\(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(parameter), file: file, line: line)
    } catch {
        XCTFail("expected a TransformError, got \(error)", file: file, line: line)
    }
}
