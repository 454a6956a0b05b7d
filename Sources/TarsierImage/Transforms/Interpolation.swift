/// How a transform samples between pixels (torchvision's `InterpolationMode`, Pillow's filters).
public enum Interpolation: String, Sendable, CaseIterable, Codable {
    /// The nearest pixel.
    case nearest
    /// Linear in each direction; when shrinking, Pillow's triangle filter widened by the scale
    /// factor (antialiased).
    case bilinear
    /// Keys' cubic with a = -0.5 (Pillow's bicubic); widened by the scale factor when shrinking.
    case bicubic
}
