/// How the samples of one pixel are arranged.
public enum PixelFormat: Int, Sendable, Codable, CaseIterable {
    /// One grey sample.
    case gray = 1
    /// Grey and alpha.
    case grayAlpha = 2
    /// Red, green, blue.
    case rgb = 3
    /// Red, green, blue, alpha.
    case rgba = 4

    /// Samples per pixel.
    public var channels: Int { rawValue }

    /// Whether the last sample is alpha.
    public var hasAlpha: Bool { self == .grayAlpha || self == .rgba }
}

/// The samples of an image: 8-bit for most files, 16-bit for deep PNGs.
public enum PixelBuffer: Sendable, Equatable {
    /// Samples in 0...255.
    case eight([UInt8])
    /// Samples in 0...65535.
    case sixteen([UInt16])

    /// The number of samples.
    public var count: Int {
        switch self {
        case .eight(let samples): return samples.count
        case .sixteen(let samples): return samples.count
        }
    }

    /// Bits per sample (8 or 16).
    public var bitDepth: Int {
        switch self {
        case .eight: return 8
        case .sixteen: return 16
        }
    }
}

/// A decoded picture: `height` rows of `width` pixels, samples interleaved (H x W x C), as
/// Pillow holds them. Transforms take and return this type; `planar()` makes the C x H x W
/// floats a tensor is built from.
public struct Image: Sendable, Equatable {
    /// Columns.
    public private(set) var width: Int
    /// Rows.
    public private(set) var height: Int
    /// The arrangement of each pixel's samples.
    public private(set) var format: PixelFormat
    /// Row-major interleaved samples, `height * width * format.channels` of them.
    public private(set) var pixels: PixelBuffer

    /// Creates an image; the sample count must match the size (a programmer error otherwise).
    public init(width: Int, height: Int, format: PixelFormat, pixels: PixelBuffer) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)x\(height)")
        precondition(pixels.count == width * height * format.channels,
                     "\(pixels.count) samples do not fill a \(width)x\(height) \(format) image")
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// Creates an 8-bit image from interleaved bytes.
    public init(width: Int, height: Int, format: PixelFormat, bytes: [UInt8]) {
        self.init(width: width, height: height, format: format, pixels: .eight(bytes))
    }

    /// An image of one colour; `value` is repeated for every sample.
    public init(width: Int, height: Int, format: PixelFormat, filledWith value: UInt8) {
        self.init(width: width, height: height, format: format,
                  bytes: [UInt8](repeating: value, count: width * height * format.channels))
    }

    /// Samples per pixel.
    public var channels: Int { format.channels }

    /// Bits per sample (8 or 16).
    public var bitDepth: Int { pixels.bitDepth }

    /// The largest sample value (255 or 65535).
    public var maxSampleValue: Int { bitDepth == 8 ? 255 : 65535 }

    /// The 8-bit samples, or nil for a 16-bit image.
    public var bytes: [UInt8]? {
        if case .eight(let samples) = pixels { return samples }
        return nil
    }

    /// Sample `channel` of the pixel at column `x`, row `y`, as an integer.
    public func sample(x: Int, y: Int, channel: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                     "pixel (\(x), \(y)) channel \(channel) is outside the \(width)x\(height)x\(channels) image")
        let index = (y * width + x) * channels + channel
        switch pixels {
        case .eight(let samples): return Int(samples[index])
        case .sixteen(let samples): return Int(samples[index])
        }
    }

    /// This image with 8-bit samples; 16-bit samples are rounded (`(v * 255 + 32767) / 65535`).
    public func toEightBit() -> Image {
        switch pixels {
        case .eight: return self
        case .sixteen(let samples):
            let bytes = samples.map { UInt8((UInt32($0) * 255 + 32767) / 65535) }
            return Image(width: width, height: height, format: format, bytes: bytes)
        }
    }

    /// This image in another pixel format, as Pillow's `convert`: grey becomes
    /// `(19595 R + 38470 G + 7471 B + 32768) >> 16` (ITU-R 601-2 luma in Pillow's fixed point), alpha is dropped or
    /// added opaque, grey is repeated into red, green and blue.
    public func converted(to target: PixelFormat) -> Image {
        if target == format { return self }
        switch pixels {
        case .eight(let samples):
            return Image(width: width, height: height, format: target,
                         bytes: Image.convert(samples, from: format, to: target, maxValue: 255))
        case .sixteen(let samples):
            return Image(width: width, height: height, format: target,
                         pixels: .sixteen(Image.convert(samples, from: format, to: target, maxValue: 65535)))
        }
    }

    private static func convert<Sample: FixedWidthInteger & UnsignedInteger>(
        _ samples: [Sample], from source: PixelFormat, to target: PixelFormat, maxValue: Int
    ) -> [Sample] {
        let pixelCount = samples.count / source.channels
        let inStride = source.channels, outStride = target.channels
        var out = [Sample](repeating: 0, count: pixelCount * outStride)
        out.withUnsafeMutableBufferPointer { dst in
            samples.withUnsafeBufferPointer { src in
                for p in 0..<pixelCount {
                    let i = p * inStride, o = p * outStride
                    let colour: (Int, Int, Int)
                    if source.channels >= 3 {
                        colour = (Int(src[i]), Int(src[i + 1]), Int(src[i + 2]))
                    } else {
                        colour = (Int(src[i]), Int(src[i]), Int(src[i]))
                    }
                    let alpha = source.hasAlpha ? Int(src[i + inStride - 1]) : maxValue
                    switch target {
                    case .gray, .grayAlpha:
                        // Pillow's fixed-point ITU-R 601-2 luma, so grey images match it exactly.
                        let luma = source.channels >= 3
                            ? (colour.0 * 19595 + colour.1 * 38470 + colour.2 * 7471 + 0x8000) >> 16 : colour.0
                        dst[o] = Sample(luma)
                    case .rgb, .rgba:
                        dst[o] = Sample(colour.0)
                        dst[o + 1] = Sample(colour.1)
                        dst[o + 2] = Sample(colour.2)
                    }
                    if target.hasAlpha { dst[o + outStride - 1] = Sample(alpha) }
                }
            }
        }
        return out
    }

    /// The samples as C x H x W floats scaled to [0, 1] (torchvision's `ToTensor`).
    public func planar() -> PlanarImage {
        let c = channels, plane = width * height
        var values = [Float](repeating: 0, count: c * plane)
        func fill<Sample: BinaryInteger>(_ samples: [Sample], scale: Float) {
            values.withUnsafeMutableBufferPointer { out in
                samples.withUnsafeBufferPointer { src in
                    for p in 0..<plane {
                        for ch in 0..<c { out[ch * plane + p] = Float(src[p * c + ch]) / scale }
                    }
                }
            }
        }
        switch pixels {
        case .eight(let samples): fill(samples, scale: 255)
        case .sixteen(let samples): fill(samples, scale: 65535)
        }
        return PlanarImage(channels: c, height: height, width: width, values: values)
    }
}

/// Channel-planar floats (C x H x W), the layout of one image in a batch tensor.
public struct PlanarImage: Sendable, Equatable {
    /// Planes.
    public var channels: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int
    /// `channels * height * width` values, plane after plane.
    public var values: [Float]

    /// Creates planar floats; the count must match the shape.
    public init(channels: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == channels * height * width,
                     "\(values.count) values do not fill \(channels)x\(height)x\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }

    /// `[channels, height, width]`.
    public var shape: [Int] { [channels, height, width] }
}
