import TarsierCPU
import TarsierSupport

/// An n-dimensional array of Float32 or Float64 values with reverse-mode autodiff.
///
/// A tensor is a value: a shared `TensorStorage` plus a layout (shape, strides, offset). Views
/// (`permuted`, `transposed`, slices) share storage; operations return new tensors. When gradient
/// recording is on and an input requires gradients, the result remembers how to propagate them.
public struct Tensor: @unchecked Sendable {
    /// The shared element buffer.
    public let storage: TensorStorage
    /// Size of each dimension.
    public let shape: [Int]
    /// Elements to skip per step along each dimension.
    public let strides: [Int]
    /// Index of the first element within `storage`.
    public let offset: Int
    /// The device whose backend runs this tensor's operations.
    public let device: Device
    /// The autodiff node: set for leaves that require gradients and for recorded results.
    public internal(set) var gradNode: GradNode?

    /// Wraps existing storage with a layout; used by views and backends.
    public init(storage: TensorStorage, shape: [Int], strides: [Int]? = nil, offset: Int = 0,
                device: Device = .default) {
        self.storage = storage
        self.shape = shape
        self.strides = strides ?? Tensor.contiguousStrides(for: shape)
        self.offset = offset
        self.device = device
        self.gradNode = nil
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .float32, device: Device = .default) {
        self.init(storage: TensorStorage(dtype: dtype, count: shape.reduce(1, *)), shape: shape, device: device)
    }

    /// An uninitialised contiguous tensor for kernels that overwrite every element.
    public init(uninitialized shape: [Int], dtype: DType = .float32, device: Device = .default) {
        self.init(storage: TensorStorage(dtype: dtype, count: shape.reduce(1, *), zeroed: false),
                  shape: shape, device: device)
    }

    /// A tensor filled with `value`.
    public init(repeating value: Double, shape: [Int], dtype: DType = .float32, device: Device = .default) {
        self.init(uninitialized: shape, dtype: dtype, device: device)
        let n = storage.count
        switch dtype {
        case .float32: storage.floats.update(repeating: Float(value), count: n)
        case .float64: storage.doubles.update(repeating: value, count: n)
        }
    }

    /// A Float32 tensor holding `data` in row-major order.
    public init(shape: [Int], data: [Float], device: Device = .default) {
        precondition(data.count == shape.reduce(1, *),
                     "shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.init(uninitialized: shape, dtype: .float32, device: device)
        data.withUnsafeBufferPointer { src in
            if let p = src.baseAddress { storage.floats.update(from: p, count: data.count) }
        }
    }

    /// A Float64 tensor holding `data` in row-major order.
    public init(shape: [Int], data: [Double], device: Device = .default) {
        precondition(data.count == shape.reduce(1, *),
                     "shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.init(uninitialized: shape, dtype: .float64, device: device)
        data.withUnsafeBufferPointer { src in
            if let p = src.baseAddress { storage.doubles.update(from: p, count: data.count) }
        }
    }

    /// A 0-dimensional tensor.
    public init(scalar: Double, dtype: DType = .float32, device: Device = .default) {
        self.init(repeating: scalar, shape: [], dtype: dtype, device: device)
    }

    /// The element type.
    public var dtype: DType { storage.dtype }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Row-major strides for `shape`.
    public static func contiguousStrides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= Swift.max(shape[axis], 1)
        }
        return strides
    }

    /// True when elements are laid out row-major without gaps starting at `offset`.
    public var isContiguous: Bool { StridedTraversal.isRowMajor(shape: shape, strides: strides) }

    /// Normalises a possibly negative axis index.
    public func axis(_ a: Int) -> Int {
        let r = a < 0 ? a + rank : a
        precondition(r >= 0 && r < Swift.max(rank, 1), "axis \(a) out of range for shape \(shape)")
        return r
    }

    /// The values as Float in row-major order (converting Float64).
    public func toArray() -> [Float] {
        let c = contiguous()
        let n = c.count
        switch dtype {
        case .float32: return Array(UnsafeBufferPointer(start: c.storage.floats + c.offset, count: n))
        case .float64: return (0..<n).map { Float(c.storage.doubles[c.offset + $0]) }
        }
    }

    /// The values as Double in row-major order.
    public func toDoubleArray() -> [Double] {
        let c = contiguous()
        let n = c.count
        switch dtype {
        case .float32: return (0..<n).map { Double(c.storage.floats[c.offset + $0]) }
        case .float64: return Array(UnsafeBufferPointer(start: c.storage.doubles + c.offset, count: n))
        }
    }

    /// The single value of a one-element tensor.
    public func item() -> Double {
        precondition(count == 1, "item() needs one element, shape is \(shape)")
        switch dtype {
        case .float32: return Double(storage.floats[offset])
        case .float64: return storage.doubles[offset]
        }
    }

    /// A tensor with the same values and no autodiff history.
    public func detached() -> Tensor {
        var t = self
        t.gradNode = nil
        return t
    }

    /// A contiguous tensor with the same values (self when already contiguous at offset 0).
    public func contiguous() -> Tensor {
        if isContiguous && offset == 0 && storage.count == count { return self }
        let result = Tensor(storage: materialize(), shape: shape, device: device)
        return Autograd.record(result, inputs: [self]) { [self] grad in [grad.reshaped(self.shape)] }
    }

    /// Copies the elements of this (possibly strided) view into new contiguous storage.
    func materialize() -> TensorStorage {
        let out = TensorStorage(dtype: dtype, count: count, zeroed: false)
        if dtype == .float32 && isChannelsLast {
            // Each image [H·W, C] becomes [C, H·W].
            ImageTranspose.transpose(storage.floats, planes: shape[0], rows: shape[2] * shape[3], columns: shape[1],
                                     into: out.floats)
            return out
        }
        switch dtype {
        case .float32: StridedCopy.copy(from: storage.floats, shape: shape, strides: strides, offset: offset, to: out.floats)
        case .float64: StridedCopy.copy(from: storage.doubles, shape: shape, strides: strides, offset: offset, to: out.doubles)
        }
        return out
    }

    /// This tensor on another device (shares storage: all backends use host memory today).
    public func to(_ device: Device) -> Tensor {
        var t = Tensor(storage: storage, shape: shape, strides: strides, offset: offset, device: device)
        t.gradNode = gradNode
        return t
    }

    /// This tensor converted to `dtype`.
    public func cast(to newType: DType) -> Tensor {
        if newType == dtype { return self }
        let c = contiguous()
        let out = Tensor(uninitialized: shape, dtype: newType, device: device)
        let n = count
        switch (dtype, newType) {
        case (.float32, .float64): for i in 0..<n { out.storage.doubles[i] = Double(c.storage.floats[c.offset + i]) }
        case (.float64, .float32): for i in 0..<n { out.storage.floats[i] = Float(c.storage.doubles[c.offset + i]) }
        default: break
        }
        let originalType = dtype
        return Autograd.record(out, inputs: [self]) { grad in [grad.cast(to: originalType)] }
    }
}

/// Copies strided elements into a dense buffer, looping fastest over the last dimension.
enum StridedCopy {
    static func copy<T>(from src: UnsafeMutablePointer<T>, shape: [Int], strides: [Int], offset: Int,
                        to dst: UnsafeMutablePointer<T>) {
        let inner = shape.last ?? 1
        let innerStride = strides.last ?? 1
        StridedTraversal.forEachRow(shape: shape, strides: strides, offset: offset) { source, destination in
            if innerStride == 1 {
                (dst + destination).update(from: src + source, count: inner)
            } else {
                for i in 0..<inner { dst[destination + i] = src[source + i * innerStride] }
            }
        }
    }
}
