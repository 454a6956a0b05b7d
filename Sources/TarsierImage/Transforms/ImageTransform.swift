import TarsierSupport

/// A step on an `Image` (the PIL-image half of a torchvision pipeline).
///
/// A transform draws its random numbers only from the generator it is given, always in the same
/// order, so the same seed gives the same output on any thread.
public protocol ImageTransform: Sendable {
    /// Transforms `image`, drawing any random numbers from `generator`.
    func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image

    /// The size of the output for an input of `size` (nil when the input size is not known), or
    /// nil when it depends on the random draws or on the pixels. The default is nil.
    func outputSize(for size: ImageSize?) -> ImageSize?
}

extension ImageTransform {
    /// Not known in advance (the safe default for transforms that do not say).
    public func outputSize(for size: ImageSize?) -> ImageSize? { nil }

    /// Transforms `image` with a generator seeded by `seed`.
    public func apply(_ image: Image, seed: UInt64) throws -> Image {
        var generator = SeededGenerator(seed: seed)
        return try apply(image, using: &generator)
    }
}

/// A step on C x H x W floats (the tensor half: Normalize, RandomErasing).
public protocol PlanarTransform: Sendable {
    /// Transforms `image`, drawing any random numbers from `generator`.
    func apply(_ image: PlanarImage, using generator: inout SeededGenerator) throws -> PlanarImage
}

extension PlanarTransform {
    /// Transforms `image` with a generator seeded by `seed`.
    public func apply(_ image: PlanarImage, seed: UInt64) throws -> PlanarImage {
        var generator = SeededGenerator(seed: seed)
        return try apply(image, using: &generator)
    }
}

/// A width and a height in pixels.
public struct ImageSize: Sendable, Hashable, CustomStringConvertible {
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int

    /// Creates a size.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// `WxH`.
    public var description: String { "\(width)x\(height)" }
}

extension Image {
    /// The image's width and height.
    public var size: ImageSize { ImageSize(width: width, height: height) }
}
