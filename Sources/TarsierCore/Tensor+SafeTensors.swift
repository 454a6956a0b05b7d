import TarsierSupport

/// Conversion between tensors and safetensors entries.
extension Tensor {
    /// A tensor holding a safetensors entry's values (F32 and F64 kept; F16, BF16 and integers as Float32).
    public init(entry: SafeTensorsEntry, device: Device = .default) throws {
        switch entry.dtype {
        case .f64:
            self.init(shape: entry.shape, data: try entry.doubles(), device: device)
        case .f32, .f16, .bf16:
            self.init(shape: entry.shape, data: try entry.floats(), device: device)
        default:
            self.init(shape: entry.shape, data: try entry.integers().map { Float($0) }, device: device)
        }
    }

    /// This tensor as a safetensors entry in its own dtype (or as I64 when `asInteger`).
    public func safeTensorsEntry(asInteger: Bool = false) -> SafeTensorsEntry {
        if asInteger {
            return SafeTensorsEntry(int64s: toDoubleArray().map { Int64($0) }, shape: shape)
        }
        switch dtype {
        case .float32:
            return SafeTensorsEntry(floats: toArray(), shape: shape)
        case .float64:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count * 8)
            for v in toDoubleArray() { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            return SafeTensorsEntry(dtype: .f64, shape: shape, data: bytes)
        }
    }
}
