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

    /// Decodes a JPEG or PNG and runs the image transforms: `ImageCodec.decode` then
    /// `transformImage(_:using:)`, except that with `reducedDecoding`, when the first transform is
    /// a `ReducedInputTransform` (RandomResizedCrop, Resize), it draws its numbers from the
    /// header's size and the file is decoded at the smallest scale that transform allows and only
    /// around the part it reads (a JPEG at k/8 of its size, around a crop's box). The random
    /// draws, and so every later transform's, are those of the full-size path; the pixels differ
    /// slightly where the scale is below 1, as the decoder's DCT scaling does part of the
    /// antialiased shrinking (`ReducedDecodingTests` measures the difference), and are exactly
    /// the full-size path's at scale 1.
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: The name errors report.
    ///   - format: The pixel format to convert to (nil keeps the file's own).
    ///   - limits: Size limits, checked against the full size either way.
    ///   - reducedDecoding: Allow decoding at reduced size.
    public func transformImage(encoded bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat?,
                               limits: DecodeLimits = .standard, reducedDecoding: Bool = true,
                               using generator: inout SeededGenerator) throws -> Image {
        // A header that cannot be read takes the plain path, whose decode reports the problem.
        guard reducedDecoding, let first = imageTransforms.first as? any ReducedInputTransform,
              let info = try? ImageCodec.info(bytes, name: name) else {
            return try transformImage(ImageCodec.decode(bytes, name: name, as: format, limits: limits), using: &generator)
        }
        let start = generator
        let plan = try first.plan(for: info.size, using: &generator)
        let reduced = try ImageCodec.decodeReduced(bytes, name: name, as: format, limits: limits,
                                                   minimumScale: plan.minimumScale, region: plan.region)
        var image: Image
        if plan.covers(reduced) {
            image = try plan.finish(reduced)
        } else {
            // The header and the decoder disagree (a damaged file): the plain path decides.
            generator = start
            image = try first.apply(ImageCodec.decode(bytes, name: name, as: format, limits: limits), using: &generator)
        }
        for transform in imageTransforms.dropFirst() { image = try transform.apply(image, using: &generator) }
        return image
    }

    /// Decodes and runs every step; see `transformImage(encoded:name:as:limits:reducedDecoding:using:)`.
    public func apply(encoded bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat?,
                      limits: DecodeLimits = .standard, reducedDecoding: Bool = true,
                      using generator: inout SeededGenerator) throws -> PlanarImage {
        let image = try transformImage(encoded: bytes, name: name, as: format, limits: limits,
                                       reducedDecoding: reducedDecoding, using: &generator)
        return try planarSteps(image, using: &generator)
    }

    /// Decodes and runs every step with a generator seeded by `seed`.
    public func apply(encoded bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat?,
                      limits: DecodeLimits = .standard, reducedDecoding: Bool = true, seed: UInt64) throws -> PlanarImage {
        var generator = SeededGenerator(seed: seed)
        return try apply(encoded: bytes, name: name, as: format, limits: limits, reducedDecoding: reducedDecoding,
                         using: &generator)
    }

    /// Runs every step, drawing from `generator`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> PlanarImage {
        try planarSteps(transformImage(image, using: &generator), using: &generator)
    }

    /// ToTensor and the planar transforms.
    private func planarSteps(_ transformed: Image, using generator: inout SeededGenerator) throws -> PlanarImage {
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
