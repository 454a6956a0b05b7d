import TarsierSupport

/// What a `ReducedInputTransform` decided for one image before it was decoded: how small the
/// decode may be, and how to finish the transform on whatever scale the decoder produced.
public struct ReducedInputPlan: Sendable {
    /// The full (upright) size the plan was drawn for.
    public let fullSize: ImageSize
    /// The smallest fraction of the full size, in (0, 1], at which the input loses nothing the
    /// output needs: the transform then shrinks by at least 1 (never upsamples more than on the
    /// full image). 1 asks for the full image.
    public let minimumScale: Double
    private let body: @Sendable (ReducedImage) throws -> Image

    /// Creates a plan. `finish` receives the image decoded at `scale` >= `minimumScale`; at scale
    /// 1 it must give exactly what the transform's `apply` gives on the full image.
    public init(fullSize: ImageSize, minimumScale: Double, finish: @escaping @Sendable (ReducedImage) throws -> Image) {
        self.fullSize = fullSize
        self.minimumScale = min(max(minimumScale, .leastNonzeroMagnitude), 1)
        self.body = finish
    }

    /// Runs the rest of the transform on `reduced`; its size must be the full size at its scale
    /// (`ceil(side * scale)`), as `ImageCodec.decodeReduced` gives it.
    public func finish(_ reduced: ReducedImage) throws -> Image {
        let expected = ReducedInputPlan.scaled(fullSize, by: reduced.scale)
        try require(reduced.image.size == expected, "ReducedInputPlan", "image",
                    "is \(reduced.image.size), but the \(fullSize) image at scale \(reduced.scale) is \(expected)")
        return try body(reduced)
    }

    /// `size` at `scale`, rounded up as the JPEG decoder rounds.
    static func scaled(_ size: ImageSize, by scale: Double) -> ImageSize {
        if scale == 1 { return size }
        return ImageSize(width: Int((Double(size.width) * scale).rounded(.up)),
                         height: Int((Double(size.height) * scale).rounded(.up)))
    }
}

/// A transform that can run on an image decoded at reduced size (JPEG's DCT scaling gives 1/2,
/// 1/4 or 1/8 of the size for much less than a full decode), because it shrinks the image
/// anyway: a crop resized to a fixed size, a resize.
///
/// `TransformPipeline.apply(encoded:name:as:limits:reducedDecoding:using:)` asks the pipeline's
/// first transform for a plan from the header's size, decodes at the plan's scale and finishes.
/// `plan` must draw exactly the random numbers `apply` draws on an image of that size, in the
/// same order, so the rest of the pipeline sees the same generator state on either path.
public protocol ReducedInputTransform: ImageTransform {
    /// Draws this transform's random numbers for an image of `size` and plans the rest.
    func plan(for size: ImageSize, using generator: inout SeededGenerator) throws -> ReducedInputPlan
}

extension ImageFunctional {
    /// The box `box` of an image, given at `scale` of the full size, resized to `size`: the box is
    /// in full-size pixels and is mapped into the reduced image with fractional edges. At scale 1
    /// this is `resizedCrop`. Nearest-neighbour is only defined at scale 1.
    static func resizedCrop(_ reduced: ReducedImage, box: CropBox, size: ImageSize,
                            interpolation: Interpolation) throws -> Image {
        if reduced.scale == 1 {
            return try resizedCrop(reduced.image, top: box.top, left: box.left, height: box.height, width: box.width,
                                   size: size, interpolation: interpolation)
        }
        let filter: ResampleFilter
        switch interpolation {
        case .bilinear: filter = .triangle
        case .bicubic: filter = .cubic
        case .nearest:
            throw TransformError(transform: "resizedCrop", parameter: "interpolation",
                                 detail: "nearest cannot resample an image decoded at scale \(reduced.scale)")
        }
        let s = reduced.scale
        return Resampler.resample(reduced.image, left: Double(box.left) * s, top: Double(box.top) * s,
                                  right: Double(box.left + box.width) * s, bottom: Double(box.top + box.height) * s,
                                  width: size.width, height: size.height, filter: filter)
    }

    /// The scale at which `box` still covers `size` pixel for pixel (1 for nearest, which must not
    /// see a reduced image).
    static func minimumScale(box: CropBox, size: ImageSize, interpolation: Interpolation) -> Double {
        guard interpolation != .nearest else { return 1 }
        return max(Double(size.width) / Double(box.width), Double(size.height) / Double(box.height))
    }
}

extension RandomResizedCrop: ReducedInputTransform {
    /// Draws the box from the full size (as `apply` does) and needs the box at `size` or larger.
    public func plan(for size: ImageSize, using generator: inout SeededGenerator) throws -> ReducedInputPlan {
        let box = sampleBox(for: size, using: &generator)
        let output = self.size, interpolation = self.interpolation
        return ReducedInputPlan(fullSize: size,
                                minimumScale: ImageFunctional.minimumScale(box: box, size: output,
                                                                           interpolation: interpolation)) { reduced in
            try ImageFunctional.resizedCrop(reduced, box: box, size: output, interpolation: interpolation)
        }
    }
}

extension Resize: ReducedInputTransform {
    /// Draws nothing; needs the image at the output size or larger.
    public func plan(for size: ImageSize, using generator: inout SeededGenerator) throws -> ReducedInputPlan {
        let output = outputSize(forInput: size)
        let whole = CropBox(top: 0, left: 0, height: size.height, width: size.width)
        let shrinks = output != size && output.width > 0 && output.height > 0
        let scale = shrinks ? ImageFunctional.minimumScale(box: whole, size: output, interpolation: interpolation) : 1
        return ReducedInputPlan(fullSize: size, minimumScale: scale) { [self] reduced in
            if reduced.scale == 1 {
                var unused = SeededGenerator(seed: 0)  // Resize draws nothing
                return try apply(reduced.image, using: &unused)
            }
            return try ImageFunctional.resizedCrop(reduced, box: whole, size: output, interpolation: interpolation)
        }
    }
}
