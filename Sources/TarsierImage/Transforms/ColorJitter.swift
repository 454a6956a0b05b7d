import TarsierSupport

/// Randomly changes brightness, contrast, saturation and hue, in a random order (torchvision's
/// `ColorJitter` on PIL images).
public struct ColorJitter: ImageTransform {
    /// The range of the brightness factor, or nil to leave brightness alone.
    public let brightness: ClosedRange<Double>?
    /// The range of the contrast factor, or nil.
    public let contrast: ClosedRange<Double>?
    /// The range of the saturation factor, or nil.
    public let saturation: ClosedRange<Double>?
    /// The range of the hue shift (within -0.5...0.5), or nil.
    public let hue: ClosedRange<Double>?

    /// Factors in `max(0, 1 - x)...1 + x` for brightness, contrast and saturation, and hue shifts in
    /// `-hue...hue` (hue at most 0.5); 0 leaves that property alone.
    public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0, hue: Double = 0) throws {
        func factorRange(_ x: Double, _ name: String) throws -> ClosedRange<Double>? {
            try require(x >= 0 && x.isFinite, "ColorJitter", name, "a single value must be non-negative, got \(x)")
            return x == 0 ? nil : max(1 - x, 0)...(1 + x)
        }
        try require(hue >= 0 && hue <= 0.5, "ColorJitter", "hue", "a single value must be in 0...0.5, got \(hue)")
        try self.init(brightnessRange: try factorRange(brightness, "brightness"),
                      contrastRange: try factorRange(contrast, "contrast"),
                      saturationRange: try factorRange(saturation, "saturation"),
                      hueRange: hue == 0 ? nil : -hue...hue)
    }

    /// Explicit ranges; nil (or 1...1, or 0...0 for hue) leaves that property alone.
    public init(brightnessRange: ClosedRange<Double>?, contrastRange: ClosedRange<Double>? = nil,
                saturationRange: ClosedRange<Double>? = nil, hueRange: ClosedRange<Double>? = nil) throws {
        func check(_ range: ClosedRange<Double>?, _ name: String, bounds: ClosedRange<Double>,
                   identity: Double) throws -> ClosedRange<Double>? {
            guard let range else { return nil }
            try requireRange(range, within: bounds, "ColorJitter", name)
            return range == identity...identity ? nil : range
        }
        brightness = try check(brightnessRange, "brightness", bounds: 0...Double.greatestFiniteMagnitude, identity: 1)
        contrast = try check(contrastRange, "contrast", bounds: 0...Double.greatestFiniteMagnitude, identity: 1)
        saturation = try check(saturationRange, "saturation", bounds: 0...Double.greatestFiniteMagnitude, identity: 1)
        hue = try check(hueRange, "hue", bounds: -0.5...0.5, identity: 0)
    }

    /// The draws of torchvision's `get_params`, in its order: a permutation of the four
    /// adjustments, then a factor for each adjustment that is enabled (brightness, contrast,
    /// saturation, hue).
    public func sampleParameters(using generator: inout SeededGenerator)
        -> (order: [Int], brightness: Double?, contrast: Double?, saturation: Double?, hue: Double?) {
        var order = [0, 1, 2, 3]
        // Fisher-Yates, from the back.
        for i in stride(from: 3, to: 0, by: -1) {
            order.swapAt(i, generator.nextInt(below: i + 1))
        }
        func draw(_ range: ClosedRange<Double>?) -> Double? {
            range.map { $0.lowerBound + ($0.upperBound - $0.lowerBound) * generator.nextUnitDouble() }
        }
        let b = draw(brightness), c = draw(contrast), s = draw(saturation), h = draw(hue)
        return (order, b, c, s, h)
    }

    /// Draws the order and factors and applies the adjustments.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        let p = sampleParameters(using: &generator)
        var image = image
        for step in p.order {
            switch step {
            case 0: if let f = p.brightness { image = try ImageFunctional.adjustBrightness(image, factor: f) }
            case 1: if let f = p.contrast { image = try ImageFunctional.adjustContrast(image, factor: f) }
            case 2: if let f = p.saturation { image = try ImageFunctional.adjustSaturation(image, factor: f) }
            default: if let f = p.hue { image = try ImageFunctional.adjustHue(image, factor: f) }
            }
        }
        return image
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
