import TarsierSupport

/// Seeded random tensors for initialisation and tests.
extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
                               device: Device = .default, generator: inout SeededGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: dtype, device: device)
        let n = t.count, width = high - low
        // Pointers taken once: per-element storage access dominates debug-build initialisation.
        switch dtype {
        case .float32:
            let p = t.storage.floats
            for i in 0..<n { p[i] = Float(low + width * generator.nextUnitDouble()) }
        case .float64:
            let p = t.storage.doubles
            for i in 0..<n { p[i] = low + width * generator.nextUnitDouble() }
        }
        return t
    }

    /// Normal values with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Double = 0, standardDeviation: Double = 1, dtype: DType = .float32,
                              device: Device = .default, generator: inout SeededGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: dtype, device: device)
        let n = t.count
        switch dtype {
        case .float32:
            let p = t.storage.floats
            for i in 0..<n { p[i] = Float(mean + standardDeviation * generator.nextNormal()) }
        case .float64:
            let p = t.storage.doubles
            for i in 0..<n { p[i] = mean + standardDeviation * generator.nextNormal() }
        }
        return t
    }
}

/// In-place updates of a tensor's storage, for optimisers, weight loading and running statistics.
extension Tensor {
    /// Overwrites this tensor's elements with `source`'s (same element count), keeping its identity so
    /// optimisers and modules that share the storage see the new values.
    public func assign(_ source: Tensor) {
        precondition(source.count == count, "assign: \(source.shape) into \(shape)")
        precondition(isContiguous, "assign needs a contiguous destination")
        let s = source.cast(to: dtype).contiguous()
        storage.noteMutation()
        storage.base.advanced(by: offset * dtype.byteCount)
            .copyMemory(from: s.storage.base.advanced(by: s.offset * dtype.byteCount), byteCount: count * dtype.byteCount)
    }

    /// Calls `body` with a mutable pointer to this contiguous Float32 tensor's elements.
    public func withMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .float32 && isContiguous, "withMutableFloats needs a contiguous float32 tensor")
        storage.noteMutation()
        return try body(UnsafeMutableBufferPointer(start: storage.floats + offset, count: count))
    }
}
