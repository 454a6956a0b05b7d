/// Where a tensor's operations run: a named backend.
///
/// Tensors are not generic over the backend; each operation dispatches at run time through the
/// device of its first operand, so another backend (a GPU) is one more conforming type.
public struct Device: @unchecked Sendable, Equatable, CustomStringConvertible {
    /// The kernels of this device.
    public let backend: any Backend

    /// Creates a device over a backend.
    public init(backend: any Backend) { self.backend = backend }

    /// The plain-Swift reference backend: the definition of every op, in Float32 and Float64.
    public static let reference = Device(backend: ReferenceBackend())
    /// The CPU backend: oneDNN for convolution, pooling, batch norm and matrix products.
    public static let cpu = Device(backend: CPUBackend())
    /// The device new tensors are created on unless one is given.
    nonisolated(unsafe) public static var `default`: Device = .cpu

    public var description: String { backend.name }

    public static func == (lhs: Device, rhs: Device) -> Bool { lhs.backend === rhs.backend }
}
