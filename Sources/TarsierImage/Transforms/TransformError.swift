/// A transform given a parameter it cannot use, or an image it cannot handle.
public struct TransformError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The transform or function at fault, e.g. `RandomResizedCrop`.
    public var transform: String
    /// The parameter at fault, e.g. `scale`.
    public var parameter: String
    /// What is wrong with it.
    public var detail: String

    /// Creates an error.
    public init(transform: String, parameter: String, detail: String) {
        self.transform = transform
        self.parameter = parameter
        self.detail = detail
    }

    /// `Transform: bad 'parameter': detail`.
    public var description: String { "\(transform): bad '\(parameter)': \(detail)" }
}

/// Throws a `TransformError` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ transform: String, _ parameter: String, _ detail: @autoclosure () -> String) throws {
    if !condition { throw TransformError(transform: transform, parameter: parameter, detail: detail()) }
}

/// Checks that `range` is a finite, non-empty interval within `bounds`.
func requireRange(_ range: ClosedRange<Double>, within bounds: ClosedRange<Double>,
                  _ transform: String, _ parameter: String) throws {
    try require(range.lowerBound.isFinite && range.upperBound.isFinite, transform, parameter,
                "must be finite, got \(range)")
    try require(bounds.contains(range.lowerBound) && bounds.contains(range.upperBound), transform, parameter,
                "must lie within \(bounds), got \(range)")
}
