import TarsierSupport
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

extension ImageFunctional {
    /// Rotates counter-clockwise by `angle` degrees as Pillow's `Image.rotate` (what torchvision's
    /// `rotate` calls for PIL images), about `center` (default: the image centre).
    /// - Parameters:
    ///   - expand: Grow the output to hold the whole rotated image (assumes rotation about the centre).
    ///   - fill: The colour of pixels that come from outside the image: one value or one per channel,
    ///     in the image's sample range.
    public static func rotate(_ image: Image, angle: Double, interpolation: Interpolation = .nearest,
                              expand: Bool = false, center: (x: Double, y: Double)? = nil,
                              fill: [Int] = [0]) throws -> Image {
        try require(angle.isFinite, "rotate", "angle", "must be finite, got \(angle)")
        _ = try image.fillSamples(fill, as: UInt16.self, transform: "rotate")
        // Python's `angle % 360.0` (the result takes the divisor's sign).
        var degrees = fmod(angle, 360)
        if degrees < 0 { degrees += 360 }
        if center == nil {
            // Pillow's exact shortcuts, which also avoid resampling.
            if degrees == 0 { return image }
            if degrees == 180 { return Geometry.rotated180(image) }
            if (degrees == 90 || degrees == 270) && (expand || image.width == image.height) {
                return degrees == 90 ? Geometry.rotated90(image) : Geometry.rotated270(image)
            }
        }
        let w = Double(image.width), h = Double(image.height)
        let (cx, cy) = center ?? (w / 2, h / 2)
        let radians = -(degrees * (Double.pi / 180))
        let cosine = roundTo15Digits(cos(radians)), sine = roundTo15Digits(sin(radians))
        var m = [cosine, sine, 0.0, roundTo15Digits(-sin(radians)), cosine, 0.0]
        func map(_ x: Double, _ y: Double) -> (Double, Double) {
            (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
        }
        (m[2], m[5]) = map(-cx - 0, -cy - 0)
        m[2] += cx
        m[5] += cy
        var width = image.width, height = image.height
        if expand {
            let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map { map($0.0, $0.1) }
            let xs = corners.map(\.0), ys = corners.map(\.1)
            let newWidth = Int((xs.max() ?? 0).rounded(.up)) - Int((xs.min() ?? 0).rounded(.down))
            let newHeight = Int((ys.max() ?? 0).rounded(.up)) - Int((ys.min() ?? 0).rounded(.down))
            (m[2], m[5]) = map(-Double(newWidth - image.width) / 2.0, -Double(newHeight - image.height) / 2.0)
            (width, height) = (newWidth, newHeight)
        }
        try require(width > 0 && height > 0, "rotate", "expand", "gives an empty \(width)x\(height) image")
        return try AffineWarp.warp(image, matrix: m, width: width, height: height, interpolation: interpolation,
                                   fill: fill, transform: "rotate")
    }

    /// Python's `round(x, 15)`: the nearest double to `x` correctly rounded to 15 decimals, which
    /// Pillow applies to the rotation matrix (so that, e.g., cos 90° is exactly 0).
    static func roundTo15Digits(_ x: Double) -> Double {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([x]) { vsnprintf(&buffer, buffer.count, "%.15f", $0) }
        guard length > 0 && length < buffer.count else { return x }
        return strtod(buffer, nil)
    }
}

extension Geometry {
    /// Pillow's `ROTATE_180` transpose.
    static func rotated180(_ image: Image) -> Image {
        flippedVertically(flippedHorizontally(image))
    }

    /// Pillow's `ROTATE_90` transpose (a quarter turn counter-clockwise).
    static func rotated90(_ image: Image) -> Image {
        let w = image.width, h = image.height
        // Output (x, y) = input (w - 1 - y, x).
        return transposed(image, width: h, height: w) { x, y in (w - 1 - y, x) }
    }

    /// Pillow's `ROTATE_270` transpose (a quarter turn clockwise).
    static func rotated270(_ image: Image) -> Image {
        let h = image.height
        return transposed(image, width: h, height: image.width) { x, y in (y, h - 1 - x) }
    }

    private static func transposed(_ image: Image, width: Int, height: Int,
                                   source: (Int, Int) -> (Int, Int)) -> Image {
        func build<S: PixelSample>(_ samples: [S]) -> Image {
            let c = image.channels
            var out = [S](repeating: 0, count: samples.count)
            for y in 0..<height {
                for x in 0..<width {
                    let (sx, sy) = source(x, y)
                    for ch in 0..<c { out[(y * width + x) * c + ch] = samples[(sy * image.width + sx) * c + ch] }
                }
            }
            return Image(width: width, height: height, format: image.format, samples: out)
        }
        switch image.pixels {
        case .eight(let samples): return build(samples)
        case .sixteen(let samples): return build(samples)
        }
    }
}

/// Rotates by an angle drawn uniformly from `degrees` (torchvision's `RandomRotation`).
public struct RandomRotation: ImageTransform {
    /// The range of the angle, in degrees counter-clockwise.
    public let degrees: ClosedRange<Double>
    /// How pixels are sampled.
    public let interpolation: Interpolation
    /// Whether the output grows to hold the whole rotated image.
    public let expand: Bool
    /// The centre of rotation (default: the image centre).
    public let center: (x: Double, y: Double)?
    /// The colour of pixels from outside the image: one value or one per channel.
    public let fill: [Int]

    /// Angles in `-degrees...degrees`.
    public init(degrees: Double, interpolation: Interpolation = .nearest, expand: Bool = false,
                center: (x: Double, y: Double)? = nil, fill: [Int] = [0]) throws {
        try require(degrees >= 0 && degrees.isFinite, "RandomRotation", "degrees",
                    "a single value must be non-negative and finite, got \(degrees)")
        try self.init(degrees: -degrees...degrees, interpolation: interpolation, expand: expand, center: center,
                      fill: fill)
    }

    /// Angles in `degrees`.
    public init(degrees: ClosedRange<Double>, interpolation: Interpolation = .nearest, expand: Bool = false,
                center: (x: Double, y: Double)? = nil, fill: [Int] = [0]) throws {
        try require(degrees.lowerBound.isFinite && degrees.upperBound.isFinite, "RandomRotation", "degrees",
                    "must be finite, got \(degrees)")
        try require(!fill.isEmpty && fill.count <= 4, "RandomRotation", "fill", "needs 1 to 4 values, got \(fill.count)")
        self.degrees = degrees
        self.interpolation = interpolation
        self.expand = expand
        self.center = center
        self.fill = fill
    }

    /// Draws the angle (one number) and rotates.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let angle = degrees.lowerBound + (degrees.upperBound - degrees.lowerBound) * generator.nextUnitDouble()
        return try ImageFunctional.rotate(image, angle: angle, interpolation: interpolation, expand: expand,
                                          center: center, fill: fill)
    }

    /// The input size, unless the output expands.
    public func outputSize(for size: ImageSize?) -> ImageSize? { expand ? nil : size }
}
