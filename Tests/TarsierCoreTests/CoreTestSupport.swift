import XCTest
@testable import TarsierCore
import TarsierSupport

/// How the values of a test input are drawn.
enum ValueDomain {
    /// Uniform in [low, high).
    case uniform(Double, Double)
    /// Magnitude uniform in [low, high) with a random sign: keeps relu, abs and division away from 0.
    case awayFromZero(Double, Double)
    /// A random permutation of `start + k·step` (k = 0..<count): no ties, gaps of `step`, so max
    /// reductions, max pooling and `maximum` stay differentiable under small perturbations.
    case distinct(start: Double, step: Double)
    /// Each value drawn from these few: many exact ties, to test which tied input a max picks.
    case levels([Double])

    static let symmetric = ValueDomain.uniform(-1, 1)
    static let positive = ValueDomain.uniform(0.5, 2)
    static let noTies = ValueDomain.distinct(start: -0.5, step: 0.01)

    func values(_ count: Int, _ generator: inout SeededGenerator) -> [Double] {
        switch self {
        case .uniform(let low, let high):
            return (0..<count).map { _ in low + (high - low) * generator.nextUnitDouble() }
        case .awayFromZero(let low, let high):
            return (0..<count).map { _ in
                let m = low + (high - low) * generator.nextUnitDouble()
                return generator.nextUnitDouble() < 0.5 ? -m : m
            }
        case .levels(let levels):
            return (0..<count).map { _ in levels[generator.nextInt(below: levels.count)] }
        case .distinct(let start, let step):
            var order = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) {
                order.swapAt(i, generator.nextInt(below: i + 1))
            }
            return order.map { start + Double($0) * step }
        }
    }
}

/// The shape and value domain of one input of a checked op.
struct InputSpec {
    var shape: [Int]
    var domain: ValueDomain

    init(_ shape: [Int], _ domain: ValueDomain = .symmetric) {
        self.shape = shape
        self.domain = domain
    }

    var count: Int { shape.reduce(1, *) }
}

/// A stable 64-bit hash (FNV-1a) so seeds do not change between runs (`hashValue` does).
func stableSeed(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x100_0000_01b3
    }
    return h
}

/// Largest |a[i] - b[i]|.
func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
}

/// Largest |a[i]|.
func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { Swift.max($0, Swift.abs($1)) } }

/// Asserts that two arrays agree within `tolerance` × max(|expected|) (and 1e-12 absolute floor).
func assertRelativelyClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ message: String,
                           file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    let scale = Swift.max(maxAbs(expected), 1e-12)
    let error = maxAbsDifference(actual, expected)
    if !(error <= tolerance * scale) {
        let worst = zip(actual, expected).enumerated().max { Swift.abs($0.element.0 - $0.element.1) < Swift.abs($1.element.0 - $1.element.1) }
        XCTFail("\(message): max error \(error) > \(tolerance) × \(scale)"
                + (worst.map { " (index \($0.offset): got \($0.element.0), expected \($0.element.1))" } ?? ""),
                file: file, line: line)
    }
}

/// Element-wise closeness with per-element absolute tolerance.
func assertClose(_ actual: [Double], _ expected: [Double], atol: Double = 1e-9, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): count", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(a - e) <= atol) {
        XCTFail("\(message): index \(i): got \(a), expected \(e)", file: file, line: line)
        return
    }
}

extension Tensor {
    /// A Float64 tensor on the reference backend.
    static func ref(_ shape: [Int], _ data: [Double]) -> Tensor {
        Tensor(shape: shape, data: data, device: .reference)
    }
}
