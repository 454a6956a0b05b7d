import Synchronization

/// A reference-counted, 64-byte-aligned buffer of elements shared by tensors and their views.
///
/// Storage is mutable only through the explicit in-place APIs (optimiser updates, weight loading,
/// running statistics); every other operation allocates new storage.
public final class TensorStorage: @unchecked Sendable {
    /// Unique for the life of the process (buffers and object addresses are reused; this is not).
    public let identity: UInt64
    /// Counts in-place writes through `noteMutation()`; kernels that keep derived copies of a
    /// tensor (reordered convolution weights) compare it to know whether theirs is current.
    public private(set) var version: UInt64 = 0
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
        identity = TensorStorage.nextIdentity.add(1, ordering: .relaxed).oldValue
        let bytes = max(count * dtype.byteCount, 64)
        base = BufferPool.shared.take(byteCount: bytes)
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
    }

    private static let nextIdentity = Atomic<UInt64>(1)

    /// Records that the elements are about to change (or just changed) in place. Every in-place
    /// API calls it: `Tensor.assign`, `Tensor.withMutableFloats`, optimiser updates.
    public func noteMutation() { version &+= 1 }

    deinit { BufferPool.shared.give(base, byteCount: max(count * dtype.byteCount, 64)) }

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

/// Keeps freed buffers by exact size for reuse: a training step allocates the same shapes every
/// time, and fresh large allocations cost page faults (the kernel zeroes every new page).
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    /// Buffers smaller than this go straight to the allocator (malloc reuses them well).
    private let minimumPooledBytes = 64 * 1024
    /// Upper bound on the bytes held idle in the pool.
    private let capacityBytes = 4 << 30
    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    private var idleBytes = 0
    private let lock = SpinLock()

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= minimumPooledBytes {
            let reused: UnsafeMutableRawPointer? = lock.withLock {
                guard let buffer = idle[byteCount]?.popLast() else { return nil }
                idleBytes -= byteCount
                return buffer
            }
            if let reused { return reused }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func give(_ buffer: UnsafeMutableRawPointer, byteCount: Int) {
        if byteCount >= minimumPooledBytes {
            let kept: Bool = lock.withLock {
                guard idleBytes + byteCount <= capacityBytes else { return false }
                idle[byteCount, default: []].append(buffer)
                idleBytes += byteCount
                return true
            }
            if kept { return }
        }
        buffer.deallocate()
    }
}
