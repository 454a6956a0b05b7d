import TarsierSupport
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

extension ImageFunctional {
    /// Sets the box of every channel to `value` (one value, or one per channel), as torchvision's `erase`.
    public static func erase(_ image: PlanarImage, top: Int, left: Int, height: Int, width: Int,
                             value: [Float]) throws -> PlanarImage {
        try require(value.count == 1 || value.count == image.channels, "erase", "value",
                    "needs 1 or \(image.channels) values, got \(value.count)")
        return try erase(image, top: top, left: left, height: height, width: width) { c, _, _ in
            value.count == 1 ? value[0] : value[c]
        }
    }

    /// Sets the box to values given per channel, row and column (relative to the box), e.g. noise.
    public static func erase(_ image: PlanarImage, top: Int, left: Int, height: Int, width: Int,
                             values: (_ channel: Int, _ row: Int, _ column: Int) -> Float) throws -> PlanarImage {
        try require(top >= 0 && left >= 0 && height >= 0 && width >= 0
                    && top + height <= image.height && left + width <= image.width, "erase", "box",
                    "\(width)x\(height) at (\(left), \(top)) is not inside the \(image.width)x\(image.height) image")
        var out = image
        for c in 0..<image.channels {
            for y in 0..<height {
                let row = (c * image.height + top + y) * image.width + left
                for x in 0..<width { out.values[row + x] = values(c, y, x) }
            }
        }
        return out
    }
}

/// Erases a random box with probability `p` (torchvision's `RandomErasing`, on planar floats
/// after normalization).
public struct RandomErasing: PlanarTransform {
    /// What fills the box.
    public enum Value: Sendable, Equatable {
        /// One value for every channel, or one per channel.
        case constant([Float])
        /// Standard normal noise, one draw per erased value.
        case random
    }

    /// The probability of erasing.
    public let p: Double
    /// The range of the box's area as a fraction of the image's.
    public let scale: ClosedRange<Double>
    /// The range of the box's aspect ratio (height / width, as torchvision), sampled log-uniformly.
    public let ratio: ClosedRange<Double>
    /// What fills the box.
    public let value: Value

    /// Erases with probability `p`.
    public init(p: Double = 0.5, scale: ClosedRange<Double> = 0.02...0.33, ratio: ClosedRange<Double> = 0.3...3.3,
                value: Value = .constant([0])) throws {
        try require((0...1).contains(p), "RandomErasing", "p", "must be in 0...1, got \(p)")
        try requireRange(scale, within: 0...1, "RandomErasing", "scale")
        try require(ratio.lowerBound > 0 && ratio.upperBound.isFinite, "RandomErasing", "ratio",
                    "must be positive and finite, got \(ratio)")
        if case .constant(let values) = value {
            try require(!values.isEmpty, "RandomErasing", "value", "needs at least one value")
        }
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
    }

    /// Draws as torchvision: one number against `p`; then up to ten tries of an area and a
    /// log-uniform ratio; for the first box that fits, the noise (if random), then its row and column.
    public func apply(_ image: PlanarImage, using generator: inout SeededGenerator) throws -> PlanarImage {
        guard generator.nextUnitDouble() < p else { return image }
        if case .constant(let values) = value {
            try require(values.count == 1 || values.count == image.channels, "RandomErasing", "value",
                        "needs 1 or \(image.channels) values for this image, got \(values.count)")
        }
        let area = Double(image.height * image.width)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let eraseArea = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * generator.nextUnitDouble())
            let aspect = exp(logLow + (logHigh - logLow) * generator.nextUnitDouble())
            let h = Int((eraseArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let w = Int((eraseArea / aspect).squareRoot().rounded(.toNearestOrEven))
            guard h < image.height && w < image.width else { continue }
            var noise: [Float] = []
            if case .random = value {
                noise = (0..<(image.channels * h * w)).map { _ in Float(generator.nextNormal()) }
            }
            let top = generator.nextInt(below: image.height - h + 1)
            let left = generator.nextInt(below: image.width - w + 1)
            switch value {
            case .constant(let values):
                return try ImageFunctional.erase(image, top: top, left: left, height: h, width: w, value: values)
            case .random:
                return try ImageFunctional.erase(image, top: top, left: left, height: h, width: w) { c, y, x in
                    noise[(c * h + y) * w + x]
                }
            }
        }
        return image
    }
}
