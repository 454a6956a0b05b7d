/// The element type of a tensor's storage.
public enum DType: String, Sendable, Codable, CaseIterable {
    /// 32-bit IEEE float: the type of training and inference.
    case float32
    /// 64-bit IEEE float: used by the reference backend for finite-difference gradient checks.
    case float64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: return 4
        case .float64: return 8
        }
    }
}
