import TarsierSupport
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// A box of an image: its top-left pixel and its size.
public struct CropBox: Sendable, Hashable, CustomStringConvertible {
    /// First row.
    public var top: Int
    /// First column.
    public var left: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int

    /// Creates a box.
    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    /// `WxH+left+top`.
    public var description: String { "\(width)x\(height)+\(left)+\(top)" }
}

/// Crops a random box of random area and aspect ratio and resizes it to a fixed size
/// (torchvision's `RandomResizedCrop`, the standard ImageNet training augmentation).
public struct RandomResizedCrop: ImageTransform {
    /// The output size.
    public let size: ImageSize
    /// The range of the box's area as a fraction of the image's.
    public let scale: ClosedRange<Double>
    /// The range of the box's aspect ratio (width / height), sampled log-uniformly.
    public let ratio: ClosedRange<Double>
    /// How the box is resampled.
    public let interpolation: Interpolation

    /// A square output of `size` x `size`.
    public init(_ size: Int, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
                interpolation: Interpolation = .bilinear) throws {
        try self.init(height: size, width: size, scale: scale, ratio: ratio, interpolation: interpolation)
    }

    /// An output of `height` x `width`.
    public init(height: Int, width: Int, scale: ClosedRange<Double> = 0.08...1,
                ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3), interpolation: Interpolation = .bilinear) throws {
        try require(height > 0 && width > 0, "RandomResizedCrop", "size",
                    "must be positive, got \(height)x\(width) (h x w)")
        try require(scale.lowerBound > 0 && scale.upperBound.isFinite, "RandomResizedCrop", "scale",
                    "must be positive and finite, got \(scale)")
        try require(ratio.lowerBound > 0 && ratio.upperBound.isFinite, "RandomResizedCrop", "ratio",
                    "must be positive and finite, got \(ratio)")
        size = ImageSize(width: width, height: height)
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
    }

    /// Draws a box for an image of `imageSize` with torchvision's `get_params`: up to ten tries
    /// of an area uniform in `scale` and a log-uniform aspect ratio (each try draws the area, then
    /// the ratio, then, if the box fits, its row and column); if none fits, the largest centred
    /// box whose ratio is within `ratio`.
    public func sampleBox(for imageSize: ImageSize, using generator: inout SeededGenerator) -> CropBox {
        let width = imageSize.width, height = imageSize.height
        let area = Double(height * width)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * generator.nextUnitDouble())
            let aspect = exp(logLow + (logHigh - logLow) * generator.nextUnitDouble())
            // Python's round() halves to even.
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = generator.nextInt(below: height - h + 1)
                let left = generator.nextInt(below: width - w + 1)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// Draws a box and resizes it to `size`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let box = sampleBox(for: image.size, using: &generator)
        return try ImageFunctional.resizedCrop(image, top: box.top, left: box.left, height: box.height,
                                               width: box.width, size: size, interpolation: interpolation)
    }

    /// Always `size`.
    public func outputSize(for size: ImageSize?) -> ImageSize? { self.size }
}
