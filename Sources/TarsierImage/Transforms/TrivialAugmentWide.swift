import TarsierSupport

/// One random operation at a random magnitude per image (torchvision's `TrivialAugmentWide`).
public struct TrivialAugmentWide: ImageTransform {
    /// The number of magnitude bins.
    public let magnitudeBins: Int
    /// How geometric operations sample pixels.
    public let interpolation: Interpolation
    /// The colour of pixels from outside the image in geometric operations.
    public let fill: [Int]

    /// TrivialAugment's wide search space with `magnitudeBins` bins (at least 2).
    public init(magnitudeBins: Int = 31, interpolation: Interpolation = .nearest, fill: [Int] = [0]) throws {
        try require(magnitudeBins >= 2, "TrivialAugmentWide", "magnitudeBins", "must be at least 2, got \(magnitudeBins)")
        try require(!fill.isEmpty && fill.count <= 4, "TrivialAugmentWide", "fill", "needs 1 to 4 values, got \(fill.count)")
        self.magnitudeBins = magnitudeBins
        self.interpolation = interpolation
        self.fill = fill
    }

    /// The magnitudes of `operation` (torchvision's `_augmentation_space`).
    func table(_ operation: AugmentOperation) -> MagnitudeTable {
        let bins = magnitudeBins
        switch operation {
        case .identity, .autoContrast, .equalize: return MagnitudeTable(values: nil, signed: false)
        case .shearX, .shearY: return MagnitudeTable(values: MagnitudeTable.linspace(0, 0.99, bins), signed: true)
        case .translateX, .translateY: return MagnitudeTable(values: MagnitudeTable.linspace(0, 32, bins), signed: true)
        case .rotate: return MagnitudeTable(values: MagnitudeTable.linspace(0, 135, bins), signed: true)
        case .brightness, .color, .contrast, .sharpness:
            return MagnitudeTable(values: MagnitudeTable.linspace(0, 0.99, bins), signed: true)
        case .posterize: return MagnitudeTable(values: MagnitudeTable.posterizeBits(bins: bins, divisions: 6), signed: false)
        case .solarize: return MagnitudeTable(values: MagnitudeTable.linspace(255, 0, bins), signed: false)
        }
    }

    /// The magnitudes of `operation`, or nil if it takes none.
    public func magnitudes(of operation: AugmentOperation) -> [Double]? { table(operation).values }

    /// Draws as torchvision: the operation; its magnitude bin if it has magnitudes; the sign if signed.
    public func sampleOperation(using generator: inout SeededGenerator) -> (operation: AugmentOperation, magnitude: Double) {
        let all = AugmentOperation.allCases
        let operation = all[generator.nextInt(below: all.count)]
        let table = table(operation)
        var magnitude = 0.0
        if let values = table.values { magnitude = values[generator.nextInt(below: values.count)] }
        if table.signed && generator.nextInt(below: 2) == 1 { magnitude = -magnitude }
        return (operation, magnitude)
    }

    /// Draws an operation and a magnitude and applies them.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let (operation, magnitude) = sampleOperation(using: &generator)
        return try operation.apply(image, magnitude: magnitude, interpolation: interpolation, fill: fill)
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
