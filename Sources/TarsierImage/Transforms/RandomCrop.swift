import TarsierSupport

/// Crops a random box of a fixed size, optionally after padding (torchvision's `RandomCrop`).
public struct RandomCrop: ImageTransform {
    /// The output size.
    public let size: ImageSize
    /// Border added on every side first, as (left, top, right, bottom), or nil for none.
    public let padding: (left: Int, top: Int, right: Int, bottom: Int)?
    /// Whether to pad an image smaller than `size` up to it (by the shortfall on both sides, as torchvision).
    public let padIfNeeded: Bool
    /// The constant padding colour: one value, or one per channel.
    public let fill: [Int]
    /// How padding is filled.
    public let paddingMode: PaddingMode

    /// A crop of `height` x `width`.
    /// - Parameters:
    ///   - padding: Border on every side before cropping (torchvision's int `padding`).
    public init(height: Int, width: Int, padding: Int? = nil, padIfNeeded: Bool = false, fill: [Int] = [0],
                paddingMode: PaddingMode = .constant) throws {
        try self.init(height: height, width: width,
                      padding: padding.map { (left: $0, top: $0, right: $0, bottom: $0) },
                      padIfNeeded: padIfNeeded, fill: fill, paddingMode: paddingMode)
    }

    /// A square crop of `size` x `size`.
    public init(_ size: Int, padding: Int? = nil, padIfNeeded: Bool = false, fill: [Int] = [0],
                paddingMode: PaddingMode = .constant) throws {
        try self.init(height: size, width: size, padding: padding, padIfNeeded: padIfNeeded, fill: fill,
                      paddingMode: paddingMode)
    }

    /// A crop of `height` x `width` after padding each side by its own amount.
    public init(height: Int, width: Int, padding: (left: Int, top: Int, right: Int, bottom: Int)?,
                padIfNeeded: Bool = false, fill: [Int] = [0], paddingMode: PaddingMode = .constant) throws {
        try require(height > 0 && width > 0, "RandomCrop", "size", "must be positive, got \(height)x\(width) (h x w)")
        if let padding {
            try require(padding.left >= 0 && padding.top >= 0 && padding.right >= 0 && padding.bottom >= 0,
                        "RandomCrop", "padding", "must not be negative, got \(padding)")
        }
        try require(!fill.isEmpty && fill.count <= 4, "RandomCrop", "fill", "needs 1 to 4 values, got \(fill.count)")
        size = ImageSize(width: width, height: height)
        self.padding = padding
        self.padIfNeeded = padIfNeeded
        self.fill = fill
        self.paddingMode = paddingMode
    }

    /// Pads as configured, then crops at an offset drawn uniformly: first the row, then the
    /// column (nothing is drawn when the image is exactly the crop size).
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        var image = image
        if let padding {
            image = try ImageFunctional.pad(image, left: padding.left, top: padding.top, right: padding.right,
                                            bottom: padding.bottom, fill: fill, mode: paddingMode)
        }
        if padIfNeeded && image.width < size.width {
            let extra = size.width - image.width
            image = try ImageFunctional.pad(image, left: extra, top: 0, right: extra, bottom: 0, fill: fill, mode: paddingMode)
        }
        if padIfNeeded && image.height < size.height {
            let extra = size.height - image.height
            image = try ImageFunctional.pad(image, left: 0, top: extra, right: 0, bottom: extra, fill: fill, mode: paddingMode)
        }
        try require(image.width >= size.width && image.height >= size.height, "RandomCrop", "size",
                    "\(size) is larger than the \(image.size) image (padded); use padIfNeeded")
        if image.width == size.width && image.height == size.height { return image }
        let top = generator.nextInt(below: image.height - size.height + 1)
        let left = generator.nextInt(below: image.width - size.width + 1)
        return Geometry.crop(image, left: left, top: top, width: size.width, height: size.height)
    }

    /// Always `size`.
    public func outputSize(for size: ImageSize?) -> ImageSize? { self.size }
}
