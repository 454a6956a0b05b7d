#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// The operations of torchvision's automatic augmentation policies (TrivialAugmentWide,
/// RandAugment), in torchvision's order.
public enum AugmentOperation: String, Sendable, CaseIterable {
    /// The image unchanged.
    case identity
    /// Horizontal shear by `atan(magnitude)` about the top-left corner.
    case shearX
    /// Vertical shear by `atan(magnitude)` about the top-left corner.
    case shearY
    /// Horizontal shift by `Int(magnitude)` pixels.
    case translateX
    /// Vertical shift by `Int(magnitude)` pixels.
    case translateY
    /// Rotation by `magnitude` degrees counter-clockwise.
    case rotate
    /// Brightness factor `1 + magnitude`.
    case brightness
    /// Saturation factor `1 + magnitude`.
    case color
    /// Contrast factor `1 + magnitude`.
    case contrast
    /// Sharpness factor `1 + magnitude`.
    case sharpness
    /// Keep `Int(magnitude)` bits.
    case posterize
    /// Invert samples at or above `magnitude`.
    case solarize
    /// Stretch each channel to the full range.
    case autoContrast
    /// Equalize each channel's histogram.
    case equalize

    /// Applies the operation with `magnitude` as torchvision's `_apply_op` does on PIL images:
    /// shears by `atan(magnitude)` about the top-left corner, translations by `Int(magnitude)`
    /// pixels, rotation by `magnitude` degrees, enhancements by factor `1 + magnitude`, posterize to
    /// `Int(magnitude)` bits, solarize at threshold `magnitude`.
    public func apply(_ image: Image, magnitude: Double, interpolation: Interpolation = .nearest,
                      fill: [Int] = [0]) throws -> Image {
        switch self {
        case .identity:
            return image
        case .shearX, .shearY:
            let degrees = atan(magnitude) * (180.0 / Double.pi)
            return try ImageFunctional.affine(image, angle: 0, translate: (0, 0), scale: 1,
                                              shear: self == .shearX ? (degrees, 0) : (0, degrees),
                                              interpolation: interpolation, fill: fill, center: (0, 0))
        case .translateX, .translateY:
            let pixels = Double(Int(magnitude))
            return try ImageFunctional.affine(image, angle: 0, translate: self == .translateX ? (pixels, 0) : (0, pixels),
                                              scale: 1, shear: (0, 0), interpolation: interpolation, fill: fill)
        case .rotate:
            return try ImageFunctional.rotate(image, angle: magnitude, interpolation: interpolation, fill: fill)
        case .brightness:
            return try ImageFunctional.adjustBrightness(image, factor: 1 + magnitude)
        case .color:
            return try ImageFunctional.adjustSaturation(image, factor: 1 + magnitude)
        case .contrast:
            return try ImageFunctional.adjustContrast(image, factor: 1 + magnitude)
        case .sharpness:
            return try ImageFunctional.adjustSharpness(image, factor: 1 + magnitude)
        case .posterize:
            return try ImageFunctional.posterize(image, bits: Int(magnitude))
        case .solarize:
            return try ImageFunctional.solarize(image, threshold: magnitude)
        case .autoContrast:
            return ImageFunctional.autocontrast(image)
        case .equalize:
            return ImageFunctional.equalize(image)
        }
    }
}

/// The magnitudes an operation can take and whether a random sign applies.
struct MagnitudeTable {
    /// The magnitude bins, or nil for an operation without a magnitude (torch's 0-d tensor).
    var values: [Double]?
    /// Whether the magnitude is negated with probability one half.
    var signed: Bool

    /// `torch.linspace(start, end, steps)` in single precision, widened to double, bit for bit as
    /// torch 1.13's AVX2 CPU kernel computes it: elements are `start + step * i` in the first half
    /// and `end - step * (steps - 1 - i)` in the second, each a fused multiply-add, except in
    /// blocks of 16 handled as two 8-lane vectors, where each lane adds `lane * step` (unfused) to
    /// its vector's first element. The last bit matters: it is the magnitude the ops receive.
    static func linspace(_ start: Double, _ end: Double, _ steps: Int) -> [Double] {
        let s = Float(start), e = Float(end)
        guard steps > 1 else { return [Double(s)] }
        let step = (e - s) / Float(steps - 1)
        let half = steps / 2
        func scalar(_ i: Int) -> Float {
            i < half ? s.addingProduct(step, Float(i)) : e.addingProduct(-step, Float(steps - i - 1))
        }
        var values = [Float]()
        values.reserveCapacity(steps)
        let lanes = 8
        while values.count + 2 * lanes <= steps {
            for _ in 0..<2 {
                let base = scalar(values.count)
                for lane in 0..<lanes { values.append(base + Float(lane) * step) }
            }
        }
        while values.count < steps { values.append(scalar(values.count)) }
        return values.map(Double.init)
    }

    /// `8 - (arange(bins) / ((bins - 1) / divisions)).round().int()`: posterize bit counts.
    static func posterizeBits(bins: Int, divisions: Double) -> [Double] {
        let divisor = Float(Double(bins - 1) / divisions)
        return (0..<bins).map { 8 - Double((Float($0) / divisor).rounded(.toNearestOrEven)) }
    }
}
