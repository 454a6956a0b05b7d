import TarsierSupport

extension ImageFunctional {
    /// The `width` x `height` box whose top-left pixel is (`left`, `top`); parts of the box
    /// outside the image are zero (torchvision's `crop` on a PIL image).
    public static func crop(_ image: Image, top: Int, left: Int, height: Int, width: Int) throws -> Image {
        try require(height > 0 && width > 0, "crop", "height/width", "must be positive, got \(height)x\(width) (h x w)")
        return Geometry.crop(image, left: left, top: top, width: width, height: height)
    }

    /// The central `height` x `width` box (torchvision's `center_crop`): a box larger than the
    /// image is first padded with zeros, the extra pixel of an odd difference going right/bottom.
    public static func centerCrop(_ image: Image, height: Int, width: Int) throws -> Image {
        try require(height > 0 && width > 0, "CenterCrop", "size", "must be positive, got \(height)x\(width) (h x w)")
        var image = image
        if width > image.width || height > image.height {
            let padX = max(width - image.width, 0), padY = max(height - image.height, 0)
            image = try pad(image, left: padX / 2, top: padY / 2, right: (padX + 1) / 2, bottom: (padY + 1) / 2)
            if width == image.width && height == image.height { return image }
        }
        // Python's round() halves to even; torchvision rounds the offsets with it.
        let top = Int((Double(image.height - height) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(image.width - width) / 2).rounded(.toNearestOrEven))
        return Geometry.crop(image, left: left, top: top, width: width, height: height)
    }
}

/// Crops the centre of the image to a fixed size, padding with zeros first if the image is
/// smaller (torchvision's `CenterCrop`).
public struct CenterCrop: ImageTransform {
    /// The output size.
    public let size: ImageSize

    /// A square crop of `size` x `size`.
    public init(_ size: Int) throws {
        try self.init(height: size, width: size)
    }

    /// A `height` x `width` crop.
    public init(height: Int, width: Int) throws {
        try require(height > 0 && width > 0, "CenterCrop", "size", "must be positive, got \(height)x\(width) (h x w)")
        size = ImageSize(width: width, height: height)
    }

    /// Crops; draws nothing.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        try ImageFunctional.centerCrop(image, height: size.height, width: size.width)
    }

    /// Always `size`.
    public func outputSize(for size: ImageSize?) -> ImageSize? { self.size }
}
