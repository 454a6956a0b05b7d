import Foundation
import TarsierCore
import TarsierSupport
import XCTest

/// A golden fixture file: its tensors as Double arrays and its metadata.
struct Fixture {
    let name: String
    let tensors: [String: SafeTensorsEntry]
    let metadata: [String: String]

    init(_ file: String) throws {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw FixtureError("the test bundle has no Fixtures folder")
        }
        name = file
        (tensors, metadata) = try SafeTensors.read(contentsOf: folder.appendingPathComponent(file).path)
    }

    /// The F64 tensor `key` as Doubles (read bit for bit, not through Float).
    func doubles(_ key: String) throws -> [Double] {
        guard let entry = tensors[key] else { throw FixtureError("\(name) has no tensor '\(key)'") }
        guard entry.dtype == .f64 else { throw FixtureError("\(name) '\(key)' is \(entry.dtype), not F64") }
        return entry.data.withUnsafeBytes { raw in
            (0..<entry.elementCount).map { i in
                Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        }
    }

    /// The F64 tensor `key` as a Float64 tensor of its shape.
    func tensor(_ key: String) throws -> Tensor {
        guard let entry = tensors[key] else { throw FixtureError("\(name) has no tensor '\(key)'") }
        return Tensor(shape: entry.shape, data: try doubles(key))
    }

    func string(_ key: String) throws -> String {
        guard let value = metadata[key] else { throw FixtureError("\(name) has no metadata '\(key)'") }
        return value
    }

    func double(_ key: String) throws -> Double {
        guard let value = Double(try string(key)) else { throw FixtureError("\(name) '\(key)' is not a number") }
        return value
    }

    func int(_ key: String) throws -> Int {
        guard let value = Int(try string(key)) else { throw FixtureError("\(name) '\(key)' is not an integer") }
        return value
    }

    func bool(_ key: String) throws -> Bool {
        switch try string(key) {
        case "true": return true
        case "false": return false
        default: throw FixtureError("\(name) '\(key)' is not a boolean")
        }
    }

    func doubleList(_ key: String) throws -> [Double] {
        try string(key).split(separator: ",").map { part in
            guard let value = Double(part) else { throw FixtureError("\(name) '\(key)' is not a number list") }
            return value
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Asserts |a − b| ≤ tolerance element-wise, reporting the worst element.
func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    var worst = 0.0, index = 0
    for i in actual.indices {
        let difference = abs(actual[i] - expected[i])
        if difference.isNaN { worst = .nan; index = i; break }
        if difference > worst { worst = difference; index = i }
    }
    if !(worst <= tolerance) {
        XCTFail("\(message): element \(index) is \(actual[index]), expected \(expected[index]) "
            + "(difference \(worst) > \(tolerance))", file: file, line: line)
    }
}
