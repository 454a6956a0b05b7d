import TarsierSupport
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

extension ImageFunctional {
    /// The output-to-input matrix (a, b, c, d, e, f) of torchvision's
    /// `_get_inverse_affine_matrix`: the forward map is translate · centre · rotate · scale ·
    /// shear · centre⁻¹, and its inverse is what Pillow samples with.
    /// - Parameters:
    ///   - angle: Rotation in degrees, clockwise.
    ///   - shear: Shear angles in degrees parallel to the x and y axes.
    public static func inverseAffineMatrix(center: (x: Double, y: Double), angle: Double,
                                           translate: (x: Double, y: Double), scale: Double,
                                           shear: (x: Double, y: Double)) -> [Double] {
        let radians = Double.pi / 180
        let rot = angle * radians, sx = shear.x * radians, sy = shear.y * radians
        let (cx, cy) = center, (tx, ty) = translate
        // The rotate-scale-shear matrix without the scale, term by term as torchvision writes it.
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        // Its inverse (determinant 1) divided by the scale, then the centre and translation.
        var m = [d, -b, 0.0, -c, a, 0.0].map { $0 / scale }
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
        return m
    }

    /// Rotates, scales, shears and translates the image keeping its centre fixed (torchvision's
    /// `affine` on a PIL image); the output has the input's size.
    /// - Parameters:
    ///   - angle: Rotation in degrees, clockwise.
    ///   - translate: Shift in pixels after the rotation.
    ///   - scale: Overall scale, positive.
    ///   - shear: Shear angles in degrees parallel to the x and y axes.
    ///   - fill: The colour of pixels from outside the image: one value or one per channel, in the
    ///     image's sample range.
    ///   - center: The fixed point (default: the image centre).
    public static func affine(_ image: Image, angle: Double, translate: (x: Double, y: Double) = (0, 0),
                              scale: Double = 1, shear: (x: Double, y: Double) = (0, 0),
                              interpolation: Interpolation = .nearest, fill: [Int] = [0],
                              center: (x: Double, y: Double)? = nil) throws -> Image {
        try require(angle.isFinite, "affine", "angle", "must be finite, got \(angle)")
        try require(translate.x.isFinite && translate.y.isFinite, "affine", "translate", "must be finite, got \(translate)")
        try require(scale > 0 && scale.isFinite, "affine", "scale", "must be positive, got \(scale)")
        try require(shear.x.isFinite && shear.y.isFinite, "affine", "shear", "must be finite, got \(shear)")
        let c = center ?? (Double(image.width) * 0.5, Double(image.height) * 0.5)
        let matrix = inverseAffineMatrix(center: c, angle: angle, translate: translate, scale: scale, shear: shear)
        return try AffineWarp.warp(image, matrix: matrix, width: image.width, height: image.height,
                                   interpolation: interpolation, fill: fill, transform: "affine")
    }
}

/// A random affine map keeping the centre fixed (torchvision's `RandomAffine`).
public struct RandomAffine: ImageTransform {
    /// The range of the rotation, in degrees clockwise.
    public let degrees: ClosedRange<Double>
    /// The largest shift as a fraction of the width and of the height, or nil for none.
    public let translate: (x: Double, y: Double)?
    /// The range of the scale, or nil for 1.
    public let scale: ClosedRange<Double>?
    /// The range of the shear parallel to the x axis, in degrees, or nil for none.
    public let shearX: ClosedRange<Double>?
    /// The range of the shear parallel to the y axis, in degrees, or nil for none.
    public let shearY: ClosedRange<Double>?
    /// How pixels are sampled.
    public let interpolation: Interpolation
    /// The colour of pixels from outside the image: one value or one per channel.
    public let fill: [Int]
    /// The fixed point (default: the image centre).
    public let center: (x: Double, y: Double)?

    /// Rotations in `-degrees...degrees` (torchvision's `RandomAffine(degrees, ...)` with a number).
    /// - Parameter shear: A single value gives x shears in `-shear...shear` (no y shear).
    public init(degrees: Double, translate: (x: Double, y: Double)? = nil, scale: ClosedRange<Double>? = nil,
                shear: Double? = nil, interpolation: Interpolation = .nearest, fill: [Int] = [0],
                center: (x: Double, y: Double)? = nil) throws {
        try require(degrees >= 0 && degrees.isFinite, "RandomAffine", "degrees",
                    "a single value must be non-negative and finite, got \(degrees)")
        if let shear {
            try require(shear >= 0 && shear.isFinite, "RandomAffine", "shear",
                        "a single value must be non-negative and finite, got \(shear)")
        }
        try self.init(degrees: -degrees...degrees, translate: translate, scale: scale,
                      shearX: shear.map { -$0...$0 }, shearY: nil, interpolation: interpolation, fill: fill,
                      center: center)
    }

    /// Rotations in `degrees`, shears in `shearX` and `shearY`.
    public init(degrees: ClosedRange<Double>, translate: (x: Double, y: Double)? = nil,
                scale: ClosedRange<Double>? = nil, shearX: ClosedRange<Double>? = nil,
                shearY: ClosedRange<Double>? = nil, interpolation: Interpolation = .nearest, fill: [Int] = [0],
                center: (x: Double, y: Double)? = nil) throws {
        try require(degrees.lowerBound.isFinite && degrees.upperBound.isFinite, "RandomAffine", "degrees",
                    "must be finite, got \(degrees)")
        if let translate {
            try require((0...1).contains(translate.x) && (0...1).contains(translate.y), "RandomAffine", "translate",
                        "fractions must be in 0...1, got \(translate)")
        }
        if let scale {
            try require(scale.lowerBound > 0 && scale.upperBound.isFinite, "RandomAffine", "scale",
                        "must be positive and finite, got \(scale)")
        }
        for (name, range) in [("shearX", shearX), ("shearY", shearY)] {
            if let range {
                try require(range.lowerBound.isFinite && range.upperBound.isFinite, "RandomAffine", name,
                            "must be finite, got \(range)")
            }
        }
        try require(!fill.isEmpty && fill.count <= 4, "RandomAffine", "fill", "needs 1 to 4 values, got \(fill.count)")
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.shearX = shearX
        self.shearY = shearY
        self.interpolation = interpolation
        self.fill = fill
        self.center = center
    }

    /// The parameters torchvision's `get_params` draws, in its order: angle; then the x and y
    /// shifts (whole pixels, rounded half to even) if `translate` is set; the scale if set; the x
    /// shear if any shear is set; the y shear if set.
    public func sampleParameters(for size: ImageSize, using generator: inout SeededGenerator)
        -> (angle: Double, translate: (x: Double, y: Double), scale: Double, shear: (x: Double, y: Double)) {
        func uniform(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUnitDouble()
        }
        let angle = uniform(degrees)
        var shift = (x: 0.0, y: 0.0)
        if let translate {
            let maxX = translate.x * Double(size.width), maxY = translate.y * Double(size.height)
            shift.x = uniform(-maxX...maxX).rounded(.toNearestOrEven)
            shift.y = uniform(-maxY...maxY).rounded(.toNearestOrEven)
        }
        let factor = scale.map { uniform($0) } ?? 1
        var shear = (x: 0.0, y: 0.0)
        if shearX != nil || shearY != nil {
            shear.x = uniform(shearX ?? 0...0)
            if let shearY { shear.y = uniform(shearY) }
        }
        return (angle, shift, factor, shear)
    }

    /// Draws the parameters and applies the map.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let p = sampleParameters(for: image.size, using: &generator)
        return try ImageFunctional.affine(image, angle: p.angle, translate: p.translate, scale: p.scale,
                                          shear: p.shear, interpolation: interpolation, fill: fill, center: center)
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
