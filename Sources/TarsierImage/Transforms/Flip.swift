import TarsierSupport

extension ImageFunctional {
    /// The image mirrored left to right.
    public static func horizontalFlip(_ image: Image) -> Image { Geometry.flippedHorizontally(image) }

    /// The image mirrored top to bottom.
    public static func verticalFlip(_ image: Image) -> Image { Geometry.flippedVertically(image) }
}

/// Mirrors the image left to right with probability `p` (torchvision's `RandomHorizontalFlip`).
public struct RandomHorizontalFlip: ImageTransform {
    /// The probability of a flip.
    public let p: Double

    /// Flips with probability `p` (in 0...1).
    public init(p: Double = 0.5) throws {
        try require((0...1).contains(p), "RandomHorizontalFlip", "p", "must be in 0...1, got \(p)")
        self.p = p
    }

    /// Draws one number; flips if it is below `p`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        generator.nextUnitDouble() < p ? Geometry.flippedHorizontally(image) : image
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}

/// Mirrors the image top to bottom with probability `p` (torchvision's `RandomVerticalFlip`).
public struct RandomVerticalFlip: ImageTransform {
    /// The probability of a flip.
    public let p: Double

    /// Flips with probability `p` (in 0...1).
    public init(p: Double = 0.5) throws {
        try require((0...1).contains(p), "RandomVerticalFlip", "p", "must be in 0...1, got \(p)")
        self.p = p
    }

    /// Draws one number; flips if it is below `p`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        generator.nextUnitDouble() < p ? Geometry.flippedVertically(image) : image
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
