import TarsierSupport

extension ImageFunctional {
    /// The grey image as Pillow's `convert("L")` (ITU-R 601-2 luma in 16-bit fixed point); with
    /// `outputChannels` 3 the grey level is repeated into red, green and blue (torchvision's
    /// `rgb_to_grayscale` on PIL images). Alpha is dropped.
    public static func rgbToGrayscale(_ image: Image, outputChannels: Int = 1) throws -> Image {
        try require(outputChannels == 1 || outputChannels == 3, "rgbToGrayscale", "outputChannels",
                    "must be 1 or 3, got \(outputChannels)")
        func build<S: PixelSample>(_ samples: [S]) -> Image {
            let luma = Luma.values(samples, format: image.format)
            let grey = luma.map { S(clamping: $0) }
            if outputChannels == 1 {
                return Image(width: image.width, height: image.height, format: .gray, samples: grey)
            }
            var out = [S](repeating: 0, count: grey.count * 3)
            for (p, value) in grey.enumerated() {
                out[p * 3] = value
                out[p * 3 + 1] = value
                out[p * 3 + 2] = value
            }
            return Image(width: image.width, height: image.height, format: .rgb, samples: out)
        }
        switch image.pixels {
        case .eight(let samples): return build(samples)
        case .sixteen(let samples): return build(samples)
        }
    }
}

/// Converts to grey (torchvision's `Grayscale`).
public struct Grayscale: ImageTransform {
    /// 1 for a grey image, 3 for grey repeated into RGB.
    public let outputChannels: Int

    /// Converts to `outputChannels` (1 or 3) grey channels.
    public init(outputChannels: Int = 1) throws {
        try require(outputChannels == 1 || outputChannels == 3, "Grayscale", "outputChannels",
                    "must be 1 or 3, got \(outputChannels)")
        self.outputChannels = outputChannels
    }

    /// Converts; draws nothing.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        try ImageFunctional.rgbToGrayscale(image, outputChannels: outputChannels)
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}

/// Converts to grey with probability `p`, keeping the number of colour channels: grey images stay
/// grey, colour images become grey RGB (torchvision's `RandomGrayscale`; alpha is dropped).
public struct RandomGrayscale: ImageTransform {
    /// The probability of the conversion.
    public let p: Double

    /// Converts with probability `p` (in 0...1).
    public init(p: Double = 0.1) throws {
        try require((0...1).contains(p), "RandomGrayscale", "p", "must be in 0...1, got \(p)")
        self.p = p
    }

    /// Draws one number; converts if it is below `p`.
    public func apply(_ image: Image, using generator: inout SeededGenerator) throws -> Image {
        guard generator.nextUnitDouble() < p else { return image }
        return try ImageFunctional.rgbToGrayscale(image, outputChannels: image.channels >= 3 ? 3 : 1)
    }

    /// The input size.
    public func outputSize(for size: ImageSize?) -> ImageSize? { size }
}
