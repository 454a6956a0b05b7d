/// A reference-counted, 64-byte-aligned buffer of elements shared by tensors and their views.
///
/// Storage is mutable only through the explicit in-place APIs (optimiser updates, weight loading,
/// running statistics); every other operation allocates new storage.
public final class TensorStorage: @unchecked Sendable {
    /// The element type of the buffer.
    public let dtype: DType
    /// Number of elements.
    public let count: Int
    /// The start of the buffer.
    public let base: UnsafeMutableRawPointer

    /// Allocates storage for `count` elements of `dtype`, zero-filled when `zeroed` is true.
    public init(dtype: DType, count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative element count \(count)")
        self.dtype = dtype
        self.count = count
        let bytes = max(count * dtype.byteCount, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
    }

    deinit { base.deallocate() }

    /// The buffer as Float32 elements; the storage must hold `float32`.
    @inline(__always) public var floats: UnsafeMutablePointer<Float> {
        base.assumingMemoryBound(to: Float.self)
    }

    /// The buffer as Float64 elements; the storage must hold `float64`.
    @inline(__always) public var doubles: UnsafeMutablePointer<Double> {
        base.assumingMemoryBound(to: Double.self)
    }

    /// The buffer typed as `T`, which must match `dtype`.
    @inline(__always) public func pointer<T: KernelScalar>(as type: T.Type) -> UnsafeMutablePointer<T> {
        precondition(T.dtype == dtype, "storage holds \(dtype), not \(T.dtype)")
        return base.assumingMemoryBound(to: T.self)
    }
}
