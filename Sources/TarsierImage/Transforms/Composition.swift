import TarsierSupport

/// A transform from a closure (torchvision's `Lambda`). The closure must draw its random numbers
/// from the generator it is given to stay reproducible.
public struct ImageLambda: ImageTransform {
    private let body: @Sendable (Image, inout SeededGenerator) throws -> Image

    /// Wraps `body`.
    public init(_ body: @escaping @Sendable (Image, inout SeededGenerator) throws -> Image) {
        self.body = body
    }

    /// Runs the closure.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        try body(image, &generator)
    }
}

/// Applies a list of transforms with probability `p` (torchvision's `RandomApply`).
public struct RandomApply: ImageTransform {
    /// The transforms, applied in order.
    public let transforms: [any ImageTransform]
    /// The probability of applying them.
    public let p: Double

    /// Applies `transforms` with probability `p` (in 0...1).
    public init(_ transforms: [any ImageTransform], p: Double = 0.5) throws {
        try require((0...1).contains(p), "RandomApply", "p", "must be in 0...1, got \(p)")
        self.transforms = transforms
        self.p = p
    }

    /// Draws one number; if it is below `p`, runs the transforms (which draw their own).
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        guard generator.nextUnitDouble() < p else { return image }
        var image = image
        for transform in transforms { image = try transform.apply(image, using: &generator) }
        return image
    }
}
