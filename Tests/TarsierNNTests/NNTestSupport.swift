import Foundation
import TarsierCore
import TarsierNN
import TarsierSupport
import XCTest

/// An error while reading a golden fixture (a missing key, a malformed metadata value).
struct NNFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One numeric configuration the goldens run under: a dtype, a device and a tolerance
/// (relative to the largest magnitude of the expected values).
struct Precision: CustomStringConvertible {
    let dtype: DType
    let device: Device
    let tolerance: Double

    /// Float64 on the plain-Swift reference backend: agrees with PyTorch's float64 to ~1e-12.
    static let reference64 = Precision(dtype: .float64, device: .reference, tolerance: 1e-9)
    /// Float32 on the oneDNN CPU backend.
    static let cpu32 = Precision(dtype: .float32, device: .cpu, tolerance: 1e-4)
    static let all = [reference64, cpu32]

    var description: String { "\(dtype) on \(device)" }
}

/// A golden file of Tests/TarsierNNTests/Fixtures, read once per test process.
final class NNFixture: @unchecked Sendable {
    let name: String
    let tensors: [String: SafeTensorsEntry]
    let metadata: [String: String]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: NNFixture] = [:]

    /// The fixture file `<name>.safetensors`, cached.
    static func load(_ name: String) throws -> NNFixture {
        lock.lock()
        defer { lock.unlock() }
        if let f = cache[name] { return f }
        let f = try NNFixture(name: name)
        cache[name] = f
        return f
    }

    static func path(_ name: String) throws -> String {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw NNFixtureError("the TarsierNNTests bundle has no Fixtures folder")
        }
        return folder.appendingPathComponent("\(name).safetensors").path
    }

    private init(name: String) throws {
        self.name = name
        (tensors, metadata) = try SafeTensors.read(contentsOf: try NNFixture.path(name))
    }

    func entry(_ key: String) throws -> SafeTensorsEntry {
        guard let e = tensors[key] else { throw NNFixtureError("\(name) has no tensor '\(key)'") }
        return e
    }

    func has(_ key: String) -> Bool { tensors[key] != nil }

    /// The values of `key` as Doubles: F64 bit for bit, F32 widened, integers converted.
    func doubles(_ key: String) throws -> [Double] {
        let e = try entry(key)
        switch e.dtype {
        case .f64:
            return e.data.withUnsafeBytes { raw in
                (0..<e.elementCount).map { i in
                    Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                }
            }
        case .f32: return try e.floats().map(Double.init)
        default: return try e.integers().map(Double.init)
        }
    }

    func shape(_ key: String) throws -> [Int] { try entry(key).shape }

    /// `key` as a tensor in the dtype and on the device of `p`.
    func tensor(_ key: String, _ p: Precision) throws -> Tensor {
        let values = try doubles(key)
        let shape = try shape(key)
        switch p.dtype {
        case .float64: return Tensor(shape: shape, data: values, device: p.device)
        case .float32: return Tensor(shape: shape, data: values.map { Float($0) }, device: p.device)
        }
    }

    /// Integer labels (I64 entries).
    func labels(_ key: String) throws -> [Int] { try entry(key).integers().map { Int($0) } }

    func string(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw NNFixtureError("\(name) has no metadata '\(key)'") }
        return v
    }

    func int(_ key: String) throws -> Int {
        guard let v = Int(try string(key)) else { throw NNFixtureError("\(name) metadata '\(key)' is not an integer") }
        return v
    }

    func double(_ key: String) throws -> Double {
        guard let v = Double(try string(key)) else { throw NNFixtureError("\(name) metadata '\(key)' is not a number") }
        return v
    }

    func bool(_ key: String) throws -> Bool {
        switch try string(key) {
        case "true": return true
        case "false": return false
        default: throw NNFixtureError("\(name) metadata '\(key)' is not a boolean")
        }
    }

    func intList(_ key: String) throws -> [Int] {
        try string(key).split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw NNFixtureError("\(name) metadata '\(key)' is not an integer list")
            }
            return v
        }
    }
}

/// max |actual − expected| / max |expected| (the absolute error when expected is all zeros).
func relativeToScaleError(_ actual: [Double], _ expected: [Double]) -> Double {
    precondition(actual.count == expected.count)
    var err = 0.0, scale = 0.0
    for (a, e) in zip(actual, expected) {
        let d = Swift.abs(a - e)
        err = d.isNaN || err.isNaN ? .nan : Swift.max(err, d)
        scale = Swift.max(scale, Swift.abs(e))
    }
    return scale > 0 ? err / scale : err
}

/// Asserts that `actual` has `expected`'s shape and values within `tolerance` relative to its
/// scale; returns the error for the record.
@discardableResult
func assertClose(_ actual: Tensor?, _ expected: [Double], shape: [Int], tolerance: Double, _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) -> Double {
    guard let actual else {
        XCTFail("\(label): no tensor (gradient not computed?)", file: file, line: line)
        return .infinity
    }
    guard actual.shape == shape || (actual.count == 1 && shape.reduce(1, *) == 1) else {
        XCTFail("\(label): shape \(actual.shape), expected \(shape)", file: file, line: line)
        return .infinity
    }
    let err = relativeToScaleError(actual.toDoubleArray(), expected)
    XCTAssert(err <= tolerance, "\(label): max error \(err) relative to scale exceeds \(tolerance)",
              file: file, line: line)
    return err
}

extension NNFixture {
    /// Asserts that `actual` matches the golden tensor `key` under precision `p`.
    @discardableResult
    func check(_ actual: Tensor?, _ key: String, _ p: Precision, tolerance: Double? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        try assertClose(actual, doubles(key), shape: shape(key), tolerance: tolerance ?? p.tolerance,
                        "\(name) \(key) [\(p)]", file: file, line: line)
    }
}

/// Runs `body` and returns the error it throws as `E`, failing when it throws nothing or another type.
func expectError<E: Error>(_ errorType: E.Type, _ label: String, file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> Void) -> E? {
    do {
        try body()
        XCTFail("\(label): expected \(E.self), nothing was thrown", file: file, line: line)
        return nil
    } catch let e as E {
        return e
    } catch {
        XCTFail("\(label): expected \(E.self), got \(Swift.type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}
