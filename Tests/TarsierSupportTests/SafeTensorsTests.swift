import Foundation
import XCTest
@testable import TarsierSupport

final class SafeTensorsTests: XCTestCase {
    // Generated with safetensors 0.8.0 (Python, numpy backend):
    //   from safetensors.numpy import save
    //   same = save({"b": np.array([1.5, -2.0], dtype=np.float32),
    //                "a": np.arange(6, dtype=np.float32).reshape(2, 3),
    //                "c.weight": np.zeros((0, 4), dtype=np.float32)}, metadata={"format": "pt"})
    //   mixed = save({"h": np.array([1.0, -0.5, 65504.0, 6e-8], dtype=np.float16),
    //                 "d": np.array([[0.1, 1e300]], dtype=np.float64),
    //                 "i": np.array([-3, 7], dtype=np.int64),
    //                 "u": np.array([255, 0, 1], dtype=np.uint8),
    //                 "s": np.array(2.5, dtype=np.float32)})
    //   print(base64.b64encode(same).decode(), base64.b64encode(mixed).decode())
    static let pythonSame = """
        0AAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJhIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJk\
        YXRhX29mZnNldHMiOlswLDI0XX0sImIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOlsyNCwzMl19\
        LCJjLndlaWdodCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMCw0XSwiZGF0YV9vZmZzZXRzIjpbMzIsMzJdfX0gAAAAAAAAgD8A\
        AABAAABAQAAAgEAAAKBAAADAPwAAAMA=
        """
    static let pythonMixed = """
        GAEAAAAAAAB7ImkiOnsiZHR5cGUiOiJJNjQiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOlswLDE2XX0sImQiOnsiZHR5cGUi\
        OiJGNjQiLCJzaGFwZSI6WzEsMl0sImRhdGFfb2Zmc2V0cyI6WzE2LDMyXX0sInMiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10s\
        ImRhdGFfb2Zmc2V0cyI6WzMyLDM2XX0sImgiOnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6WzRdLCJkYXRhX29mZnNldHMiOlszNiw0\
        NF19LCJ1Ijp7ImR0eXBlIjoiVTgiLCJzaGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOls0NCw0N119fSAgICAg/f////////8HAAAA\
        AAAAAJqZmZmZmbk/nHUAiDzkN34AACBAADwAuP97AQD/AAE=
        """

    static func bytes(base64: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: base64) ?? Data())
    }

    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tarsier-st-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Round trips and reference bytes

    func testEncodeMatchesPythonBytes() throws {
        let tensors: [String: SafeTensorsEntry] = [
            "b": SafeTensorsEntry(floats: [1.5, -2.0], shape: [2]),
            "a": SafeTensorsEntry(floats: [0, 1, 2, 3, 4, 5], shape: [2, 3]),
            "c.weight": SafeTensorsEntry(floats: [], shape: [0, 4]),
        ]
        let encoded = try SafeTensors.encode(tensors, metadata: ["format": "pt"])
        XCTAssertEqual(encoded, Self.bytes(base64: Self.pythonSame))
        let headerLength = Int(encoded[0]) | Int(encoded[1]) << 8
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testEncodeMatchesPythonDTypeOrder() throws {
        let reference = Self.bytes(base64: Self.pythonMixed)
        let decoded = try SafeTensors.decode(reference)
        XCTAssertEqual(try SafeTensors.encode(decoded.tensors, metadata: decoded.metadata), reference)
    }

    func testReadsPythonMixedDTypes() throws {
        let (tensors, metadata) = try SafeTensors.decode(Self.bytes(base64: Self.pythonMixed))
        XCTAssertEqual(metadata, [:])
        XCTAssertEqual(Set(tensors.keys), ["h", "d", "i", "u", "s"])
        XCTAssertEqual(try tensors["h"]?.floats(), [1.0, -0.5, 65504.0, 5.960464477539063e-08])
        XCTAssertEqual(tensors["d"]?.shape, [1, 2])
        XCTAssertEqual(try tensors["d"]?.floats(), [0.1, Float.infinity])
        XCTAssertEqual(try tensors["d"]?.doubles(), [0.1, 1e300])
        XCTAssertEqual(try tensors["h"]?.doubles(), [1.0, -0.5, 65504.0, 5.960464477539063e-08])
        XCTAssertEqual(try tensors["i"]?.integers(), [-3, 7])
        XCTAssertEqual(try tensors["u"]?.integers(), [255, 0, 1])
        XCTAssertEqual(tensors["s"]?.shape, [])
        XCTAssertEqual(try tensors["s"]?.floats(), [2.5])
        XCTAssertThrowsError(try tensors["u"]?.floats()) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.kind, .unsupportedConversion)
        }
    }

    func testFileRoundTripAllDTypes() throws {
        var tensors: [String: SafeTensorsEntry] = [:]
        for (i, dtype) in SafeTensorsDType.allCases.enumerated() {
            let shape = [2, i % 3 + 1]
            let count = shape.reduce(1, *) * dtype.byteSize
            tensors["t.\(dtype.rawValue)"] = SafeTensorsEntry(dtype: dtype, shape: shape,
                                                              data: (0..<count).map { UInt8(($0 * 37 + i) & 0xFF) })
        }
        tensors["scalar"] = SafeTensorsEntry(floats: [3.25], shape: [])
        tensors["empty"] = SafeTensorsEntry(floats: [], shape: [3, 0])
        let path = directory + "/model.safetensors"
        try SafeTensors.write(tensors, metadata: ["epoch": "3", "z": "\"quoted\"\n"], to: path)
        let (read, metadata) = try SafeTensors.read(contentsOf: path)
        XCTAssertEqual(read, tensors)
        XCTAssertEqual(metadata, ["epoch": "3", "z": "\"quoted\"\n"])
    }

    func testFloatConversions() throws {
        // BF16 1.0 = 0x3F80, -2.5 = 0xC020; F16 subnormal 0x0001 = 2^-24, 0x7C00 = inf.
        let bf16 = SafeTensorsEntry(dtype: .bf16, shape: [2], data: [0x80, 0x3F, 0x20, 0xC0])
        XCTAssertEqual(try bf16.floats(), [1.0, -2.5])
        let f16 = SafeTensorsEntry(dtype: .f16, shape: [3], data: [0x01, 0x00, 0x00, 0x7C, 0x00, 0xC0])
        XCTAssertEqual(try f16.floats(), [0x1.0p-24, .infinity, -2.0])
        let nan = SafeTensorsEntry(dtype: .f16, shape: [1], data: [0x01, 0x7E])
        XCTAssertTrue(try nan.floats()[0].isNaN)
        let wrongSize = SafeTensorsEntry(dtype: .f32, shape: [2], data: [0, 0, 0])
        XCTAssertThrowsError(try wrongSize.floats())
        let tensors = ["w": SafeTensorsEntry(floats: [1, 2], shape: [2])]
        XCTAssertEqual(try SafeTensors.floats(named: "w", in: tensors), [1, 2])
        XCTAssertThrowsError(try SafeTensors.floats(named: "missing", in: tensors, file: "m.st")) { error in
            let description = String(describing: error)
            XCTAssertTrue(description.contains("m.st") && description.contains("missing"), description)
        }
    }

    func testEncoderRejectsInconsistentEntries() {
        let bad = ["w": SafeTensorsEntry(dtype: .f32, shape: [2, 2], data: [0, 0, 0, 0])]
        XCTAssertThrowsError(try SafeTensors.encode(bad)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.kind, .invalidEntry)
            XCTAssertEqual((error as? SafeTensorsError)?.key, "w")
        }
        let reserved = ["__metadata__": SafeTensorsEntry(floats: [1], shape: [1])]
        XCTAssertThrowsError(try SafeTensors.encode(reserved))
    }

    // MARK: - Malformed files

    /// Builds a file from a raw header string and a data buffer.
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        return (0..<8).map { UInt8((length >> (8 * UInt64($0))) & 0xFF) } + headerBytes + data
    }

    func assertRejects(_ bytes: [UInt8], _ kind: SafeTensorsError.Kind, key: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        // Through the file reader, so messages name the path.
        let path = directory + "/bad-\(kind.rawValue).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensors.read(contentsOf: path), file: file, line: line) { error in
            guard let error = error as? SafeTensorsError else {
                return XCTFail("unexpected error \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, error.description, file: file, line: line)
            XCTAssertEqual(error.key, key, error.description, file: file, line: line)
            XCTAssertTrue(error.description.contains(path), error.description, file: file, line: line)
            if let key {
                XCTAssertTrue(error.description.contains("'\(key)'"), error.description, file: file, line: line)
            }
        }
        XCTAssertThrowsError(try SafeTensors.decode(bytes), file: file, line: line)
    }

    func testTruncated() throws {
        try assertRejects([1, 0, 0], .truncated)
        let valid = Self.bytes(base64: Self.pythonSame)
        try assertRejects(Array(valid.prefix(100)), .truncated)   // ends inside the header
        try assertRejects(Array(valid.dropLast(4)), .offsetOutOfBounds, key: "b")  // ends inside data
    }

    func testHeaderTooLarge() throws {
        try assertRejects(Self.file(header: "{}", data: [], declaredLength: 100_000_001), .headerTooLarge)
        try assertRejects(Self.file(header: "{}", data: [], declaredLength: UInt64.max), .headerTooLarge)
    }

    func testOffsetOutOfBounds() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        try assertRejects(Self.file(header: header, data: [0, 0, 0, 0]), .offsetOutOfBounds, key: "w")
    }

    func testOverlapping() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try assertRejects(Self.file(header: header, data: [UInt8](repeating: 0, count: 12)),
                          .overlappingOffsets, key: "b")
    }

    func testGap() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        try assertRejects(Self.file(header: header, data: [UInt8](repeating: 0, count: 12)), .gapInOffsets, key: "b")
        let late = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
        try assertRejects(Self.file(header: late, data: [0, 0]), .gapInOffsets, key: "a")
    }

    func testUncoveredTrailingBytes() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        try assertRejects(Self.file(header: header, data: [1, 2, 3]), .incompleteCoverage)
    }

    func testBadDType() throws {
        let header = #"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#
        try assertRejects(Self.file(header: header, data: [UInt8](repeating: 0, count: 16)), .unknownDType, key: "w")
    }

    func testShapeSizeMismatch() throws {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        try assertRejects(Self.file(header: header, data: [UInt8](repeating: 0, count: 8)), .sizeMismatch, key: "w")
    }

    func testOverflowShape() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#
        try assertRejects(Self.file(header: header, data: []), .shapeOverflow, key: "w")
        let product = #"{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        try assertRejects(Self.file(header: product, data: []), .shapeOverflow, key: "w")
    }

    func testNegativeShapeAndBadOffsets() throws {
        let negative = #"{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}"#
        try assertRejects(Self.file(header: negative, data: []), .invalidShape, key: "w")
        let reversed = #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#
        try assertRejects(Self.file(header: reversed, data: [0, 0, 0, 0]), .invalidOffsets, key: "w")
        let triple = #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#
        try assertRejects(Self.file(header: triple, data: [0]), .invalidOffsets, key: "w")
    }

    func testInvalidHeaders() throws {
        try assertRejects(Self.file(header: "{\"w\": [1,", data: []), .invalidHeader)
        try assertRejects(Self.file(header: "[]", data: []), .invalidHeader)
        try assertRejects([2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE], .invalidHeader)
        let missingField = #"{"w":{"dtype":"U8","data_offsets":[0,1]}}"#
        try assertRejects(Self.file(header: missingField, data: [0]), .invalidHeader, key: "w")
        let badMetadata = #"{"__metadata__":{"a":1}}"#
        try assertRejects(Self.file(header: badMetadata, data: []), .invalidHeader, key: "__metadata__")
    }

    func testMissingFile() {
        XCTAssertThrowsError(try SafeTensors.read(contentsOf: directory + "/nope.safetensors")) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.kind, .unreadable)
            XCTAssertTrue(String(describing: error).contains("nope.safetensors"))
        }
    }

    /// Every prefix and many random corruptions of a valid file must throw or parse, never trap.
    func testCorruptionsNeverCrash() {
        let valid = Self.bytes(base64: Self.pythonMixed)
        var rejected = 0
        for length in 0..<valid.count where (try? SafeTensors.decode(Array(valid.prefix(length)))) == nil {
            rejected += 1
        }
        XCTAssertEqual(rejected, valid.count)
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + generator.nextInt(below: 4)) {
                bytes[generator.nextInt(below: bytes.count)] = UInt8(truncatingIfNeeded: generator.next())
            }
            if let decoded = try? SafeTensors.decode(bytes) {
                // Whatever parses must re-encode to a file that parses the same way.
                if let again = try? SafeTensors.decode(SafeTensors.encode(decoded.tensors, metadata: decoded.metadata)) {
                    XCTAssertEqual(again.tensors, decoded.tensors)
                } else {
                    XCTFail("re-encoding a parsed file failed")
                }
            }
        }
    }
}
