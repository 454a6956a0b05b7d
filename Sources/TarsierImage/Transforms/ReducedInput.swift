import TarsierSupport

/// What a `ReducedInputTransform` decided for one image before it was decoded: how small the
/// decode may be, which part of the picture it needs, and how to finish on what the decoder gives.
public struct ReducedInputPlan: Sendable {
    /// The full (upright) size the plan was drawn for.
    public let fullSize: ImageSize
    /// The smallest fraction of the full size, in (0, 1], at which the input loses nothing the
    /// output needs: the transform then shrinks by at least 1 (never upsamples more than on the
    /// full image). 1 asks for the full size.
    public let minimumScale: Double
    /// The part of the full-size picture the transform reads (nil: all of it).
    public let region: CropBox?
    private let body: @Sendable (ReducedImage) throws -> Image

    /// Creates a plan. `finish` receives a `ReducedImage` at a scale of at least `minimumScale`
    /// holding at least `region`; at scale 1 it must give exactly what the transform's `apply`
    /// gives on the full image.
    public init(fullSize: ImageSize, minimumScale: Double, region: CropBox? = nil,
                finish: @escaping @Sendable (ReducedImage) throws -> Image) {
        self.fullSize = fullSize
        self.minimumScale = min(max(minimumScale, .leastNonzeroMagnitude), 1)
        self.region = region
        self.body = finish
    }

    /// Whether `reduced` holds all of `region` (or the whole picture).
    public func covers(_ reduced: ReducedImage) -> Bool {
        let box = region ?? CropBox(top: 0, left: 0, height: fullSize.height, width: fullSize.width)
        let s = reduced.scale, slack = 1e-9
        return Double(box.left) * s - reduced.left >= -slack && Double(box.top) * s - reduced.top >= -slack
            && Double(box.left + box.width) * s - reduced.left <= Double(reduced.image.width) + slack
            && Double(box.top + box.height) * s - reduced.top <= Double(reduced.image.height) + slack
    }

    /// Runs the rest of the transform on `reduced`, which must hold the region (`covers`).
    public func finish(_ reduced: ReducedImage) throws -> Image {
        try require(covers(reduced), "ReducedInputPlan", "image",
                    "the \(reduced.image.size) image at scale \(reduced.scale) does not hold the region "
                        + "\(region.map { "\($0)" } ?? "\(fullSize)") of the \(fullSize) picture")
        return try body(reduced)
    }
}

/// A transform that can run on an image decoded at reduced size (JPEG's DCT scaling gives 7/8,
/// 3/4, ... 1/8 of the size for less than a full decode), and on only the part of the picture
/// it reads, because it shrinks anyway: a crop resized to a fixed size, a resize.
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
    /// The box `box` of the full-size picture resized to `size`, from `reduced`, which holds it at
    /// some scale: the box is mapped into the reduced image with fractional edges. At scale 1 this
    /// is `resizedCrop`. Nearest-neighbour is only defined at scale 1.
    static func resizedCrop(_ reduced: ReducedImage, box: CropBox, size: ImageSize,
                            interpolation: Interpolation) throws -> Image {
        if reduced.scale == 1, let left = Int(exactly: reduced.left), let top = Int(exactly: reduced.top) {
            return try resizedCrop(reduced.image, top: box.top - top, left: box.left - left, height: box.height,
                                   width: box.width, size: size, interpolation: interpolation)
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
        return Resampler.resample(reduced.image, left: Double(box.left) * s - reduced.left,
                                  top: Double(box.top) * s - reduced.top,
                                  right: Double(box.left + box.width) * s - reduced.left,
                                  bottom: Double(box.top + box.height) * s - reduced.top,
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
        let scale = ImageFunctional.minimumScale(box: box, size: output, interpolation: interpolation)
        return ReducedInputPlan(fullSize: size, minimumScale: scale, region: box) { reduced in
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
            if reduced.scale == 1 && reduced.image.size == size && reduced.left == 0 && reduced.top == 0 {
                var unused = SeededGenerator(seed: 0)  // Resize draws nothing
                return try apply(reduced.image, using: &unused)
            }
            return try ImageFunctional.resizedCrop(reduced, box: whole, size: output, interpolation: interpolation)
        }
    }
}
