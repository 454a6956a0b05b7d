import TarsierSupport

/// `numOps` random operations at one fixed magnitude (torchvision's `RandAugment`).
public struct RandAugment: ImageTransform {
    /// Operations per image.
    public let numOps: Int
    /// The magnitude bin, in `0..<magnitudeBins`.
    public let magnitude: Int
    /// The number of magnitude bins.
    public let magnitudeBins: Int
    /// How geometric operations sample pixels.
    public let interpolation: Interpolation
    /// The colour of pixels from outside the image in geometric operations.
    public let fill: [Int]

    /// RandAugment with `numOps` operations at bin `magnitude` of `magnitudeBins`.
    public init(numOps: Int = 2, magnitude: Int = 9, magnitudeBins: Int = 31, interpolation: Interpolation = .nearest,
                fill: [Int] = [0]) throws {
        try require(numOps >= 0, "RandAugment", "numOps", "must not be negative, got \(numOps)")
        try require(magnitudeBins >= 2, "RandAugment", "magnitudeBins", "must be at least 2, got \(magnitudeBins)")
        try require((0..<magnitudeBins).contains(magnitude), "RandAugment", "magnitude",
                    "must be in 0..<\(magnitudeBins), got \(magnitude)")
        try require(!fill.isEmpty && fill.count <= 4, "RandAugment", "fill", "needs 1 to 4 values, got \(fill.count)")
        self.numOps = numOps
        self.magnitude = magnitude
        self.magnitudeBins = magnitudeBins
        self.interpolation = interpolation
        self.fill = fill
    }

    /// The magnitudes of `operation` for an image of `size` (torchvision's `_augmentation_space`).
    func table(_ operation: AugmentOperation, size: ImageSize) -> MagnitudeTable {
        let bins = magnitudeBins
        switch operation {
        case .identity, .autoContrast, .equalize: return MagnitudeTable(values: nil, signed: false)
        case .shearX, .shearY: return MagnitudeTable(values: MagnitudeTable.linspace(0, 0.3, bins), signed: true)
        case .translateX:
            return MagnitudeTable(values: MagnitudeTable.linspace(0, 150.0 / 331.0 * Double(size.width), bins), signed: true)
        case .translateY:
            return MagnitudeTable(values: MagnitudeTable.linspace(0, 150.0 / 331.0 * Double(size.height), bins), signed: true)
        case .rotate: return MagnitudeTable(values: MagnitudeTable.linspace(0, 30, bins), signed: true)
        case .brightness, .color, .contrast, .sharpness:
            return MagnitudeTable(values: MagnitudeTable.linspace(0, 0.9, bins), signed: true)
        case .posterize: return MagnitudeTable(values: MagnitudeTable.posterizeBits(bins: bins, divisions: 4), signed: false)
        case .solarize: return MagnitudeTable(values: MagnitudeTable.linspace(255, 0, bins), signed: false)
        }
    }

    /// The magnitudes of `operation` for an image of `size`, or nil if it takes none.
    public func magnitudes(of operation: AugmentOperation, for size: ImageSize) -> [Double]? {
        table(operation, size: size).values
    }

    /// Draws, for each of `numOps` operations: the operation, then its sign if signed; applies it.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        var image = image
        let all = AugmentOperation.allCases
        for _ in 0..<numOps {
            let operation = all[generator.nextInt(below: all.count)]
            let table = table(operation, size: image.size)
            var value = table.values?[magnitude] ?? 0
            if table.signed && generator.nextInt(below: 2) == 1 { value = -value }
            image = try operation.apply(image, magnitude: value, interpolation: interpolation, fill: fill)
        }
        return image
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
