import TarsierSupport

/// Image transforms, then ToTensor (`Image.planar()`), then planar transforms: a torchvision
/// `Compose([...PIL transforms..., ToTensor(), ...tensor transforms...])`.
///
/// Every random draw comes from the one generator passed along, in a fixed order, so
/// `apply(_:seed:)` with a per-sample seed gives the same output whatever thread runs it.
public struct TransformPipeline: Sendable {
    /// The steps on `Image`s, in order.
    public var imageTransforms: [any ImageTransform]
    /// The steps on planar floats, in order.
    public var planarTransforms: [any PlanarTransform]

    /// A pipeline of `imageTransforms`, ToTensor, then `planar`.
    public init(_ imageTransforms: [any ImageTransform], planar: [any PlanarTransform] = []) {
        self.imageTransforms = imageTransforms
        self.planarTransforms = planar
    }

    /// Runs the image transforms only.
    public func transformImage(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        var image = image
        for transform in imageTransforms { image = try transform.apply(image, using: &generator) }
        return image
    }

    /// Runs every step, drawing from `generator`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> PlanarImage {
        let transformed = try transformImage(image, using: &generator)
        var planar: PlanarImage
        var rest = planarTransforms[...]
        if let normalize = rest.first as? Normalize {
            // ToTensor and Normalize fused into one pass; the values are identical.
            planar = try normalize.planarNormalized(transformed)
            rest = rest.dropFirst()
        } else {
            planar = transformed.planar()
        }
        for transform in rest { planar = try transform.apply(planar, using: &generator) }
        return planar
    }

    /// Runs every step with a generator seeded by `seed` (deterministic per sample).
    public func apply(_ image: Image, seed: UInt64) throws -> PlanarImage {
        var generator = SeededGenerator(seed: seed)
        return try apply(image, using: &generator)
    }

    /// The output's width and height for an input of `size` (nil: unknown), if the transforms fix
    /// it (e.g. a CenterCrop or RandomResizedCrop); nil when it depends on the draws or the pixels.
    public func outputSize(for size: ImageSize?) -> ImageSize? {
        var current = size
        for transform in imageTransforms { current = transform.outputSize(for: current) }
        return current
    }
}
