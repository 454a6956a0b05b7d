#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

extension ImageFunctional {
    /// Scales brightness: blends with black (Pillow's `ImageEnhance.Brightness`, torchvision's
    /// `adjust_brightness` on PIL images). 0 gives black, 1 the original.
    public static func adjustBrightness(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustBrightness", "factor")
        return Blend.enhance(image, factor: factor, with: .constant(0))
    }

    /// Scales contrast: blends with the mean grey level, `Int(mean + 0.5)` of the grey image
    /// (Pillow's `ImageEnhance.Contrast`). 0 gives a flat grey image, 1 the original.
    public static func adjustContrast(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustContrast", "factor")
        let luma = Luma.values(image)
        var total = 0.0
        for value in luma { total += Double(value) }
        let mean = Int(total / Double(luma.count) + 0.5)
        return Blend.enhance(image, factor: factor, with: .constant(mean))
    }

    /// Scales saturation: blends with the grey image (Pillow's `ImageEnhance.Color`). 0 gives grey,
    /// 1 the original; grey images are returned as they are.
    public static func adjustSaturation(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustSaturation", "factor")
        if image.channels < 3 { return image }
        return Blend.enhance(image, factor: factor, with: .luma)
    }

    /// Scales sharpness: blends with Pillow's SMOOTH-filtered image (`ImageEnhance.Sharpness`,
    /// torchvision's `adjust_sharpness` on PIL images). 0 blurs, 1 is the original, 2 sharpens.
    public static func adjustSharpness(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustSharpness", "factor")
        return Blend.enhance(image, factor: factor, with: .image(Smooth.filtered(image)))
    }

    /// Rotates hue by `factor` of a turn, in -0.5...0.5 (torchvision's `adjust_hue` on PIL images:
    /// to Pillow's 8-bit HSV, hue plus `UInt8(factor * 255)` wrapping, back to RGB). Grey images
    /// are returned as they are; alpha is kept. 16-bit images use unquantised HSV.
    public static func adjustHue(_ image: Image, factor: Double) throws -> Image {
        try require((-0.5...0.5).contains(factor), "adjustHue", "factor", "must be in -0.5...0.5, got \(factor)")
        if image.channels < 3 { return image }
        switch image.pixels {
        case .eight(let samples):
            // NumPy's uint8 of a float: truncate toward zero, then wrap.
            let shift = UInt8(truncatingIfNeeded: Int(factor * 255))
            let c = image.channels
            var out = samples
            out.withUnsafeMutableBufferPointer { pixels in
                var i = 0
                while i < pixels.count {
                    var (h, s, v) = HSV.fromRGB(pixels[i], pixels[i + 1], pixels[i + 2])
                    h &+= shift
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = HSV.toRGB(h, s, v)
                    i += c
                }
            }
            return Image(width: image.width, height: image.height, format: image.format, bytes: out)
        case .sixteen(let samples):
            var out = samples
            let c = image.channels
            var i = 0
            while i < out.count {
                (out[i], out[i + 1], out[i + 2]) = HSV.shiftHue(out[i], out[i + 1], out[i + 2], by: factor)
                i += c
            }
            return Image(width: image.width, height: image.height, format: image.format, pixels: .sixteen(out))
        }
    }

    private static func requireFactor(_ factor: Double, _ function: String, _ parameter: String) throws {
        try require(factor >= 0 && factor.isFinite, function, parameter, "must be non-negative and finite, got \(factor)")
    }
}

/// Pillow's `Image.blend(degenerate, image, factor)`, the core of every `ImageEnhance` class:
/// `degenerate + factor * (image - degenerate)`, truncated and clipped. Alpha is never blended
/// (the enhancers give the degenerate image the original's alpha).
enum Blend {
    /// What the image is blended with.
    enum Degenerate {
        /// One level in every colour channel.
        case constant(Int)
        /// Each pixel's grey level in every colour channel.
        case luma
        /// Another image of the same size and format.
        case image(Image)
    }

    static func enhance(_ image: Image, factor: Double, with degenerate: Degenerate) -> Image {
        if factor == 1 { return image }
        switch image.pixels {
        case .eight(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: blend(samples, format: image.format, factor: factor, with: degenerate))
        case .sixteen(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: blend(samples, format: image.format, factor: factor, with: degenerate))
        }
    }

    private static func blend<S: PixelSample>(_ samples: [S], format: PixelFormat, factor: Double,
                                              with degenerate: Degenerate) -> [S] {
        let c = format.channels, colours = format.hasAlpha ? c - 1 : c
        var out = samples
        out.withUnsafeMutableBufferPointer { out in
            switch degenerate {
            case .constant(let level):
                // The result depends on the sample alone: a table.
                let table = (0...Int(S.max)).map { S.mix(level, S(truncatingIfNeeded: $0), factor) }
                table.withUnsafeBufferPointer { table in
                    for i in 0..<out.count where colours == c || i % c != colours {
                        out[i] = table[Int(out[i])]
                    }
                }
            case .luma:
                var i = 0
                while i < out.count {
                    let grey = Luma.level(Int(out[i]), Int(out[i + 1]), Int(out[i + 2]))
                    for ch in 0..<colours { out[i + ch] = S.mix(grey, out[i + ch], factor) }
                    i += c
                }
            case .image(let other):
                guard let degenerateSamples = S.samples(of: other.pixels) else { return }
                degenerateSamples.withUnsafeBufferPointer { d in
                    for i in 0..<out.count where colours == c || i % c != colours {
                        out[i] = S.mix(Int(d[i]), out[i], factor)
                    }
                }
            }
        }
        return out
    }
}

extension UInt8 {
    /// Pillow's 8-bit blend of one sample: single precision (Pillow takes the factor as a C
    /// float), truncated after clipping.
    @inline(__always)
    static func mix(_ degenerate: Int, _ value: UInt8, _ factor: Double) -> UInt8 {
        let a = Float(degenerate)
        let result = a + Float(factor) * (Float(value) - a)
        return UInt8(truncatingIfNeeded: Int32(Swift.min(Swift.max(result, 0), 255)))
    }
}

extension UInt16 {
    /// The same blend for 16-bit samples, in double precision.
    @inline(__always)
    static func mix(_ degenerate: Int, _ value: UInt16, _ factor: Double) -> UInt16 {
        let a = Double(degenerate)
        let result = a + factor * (Double(value) - a)
        return UInt16(truncatingIfNeeded: Int32(Swift.min(Swift.max(result, 0), 65535)))
    }
}

/// Grey levels as Pillow's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point,
/// `(19595 R + 38470 G + 7471 B + 32768) >> 16`.
enum Luma {
    /// One grey level per pixel.
    static func values(_ image: Image) -> [Int] {
        switch image.pixels {
        case .eight(let s): return values(s, format: image.format)
        case .sixteen(let s): return values(s, format: image.format)
        }
    }

    static func values<S: PixelSample>(_ samples: [S], format: PixelFormat) -> [Int] {
        let c = format.channels
        let count = samples.count / c
        if c < 3 { return (0..<count).map { Int(samples[$0 * c]) } }
        return (0..<count).map { p in
            level(Int(samples[p * c]), Int(samples[p * c + 1]), Int(samples[p * c + 2]))
        }
    }

    /// The grey level of one colour.
    @inline(__always)
    static func level(_ r: Int, _ g: Int, _ b: Int) -> Int {
        (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
    }
}

/// Pillow's HSV conversions (`Convert.c`, after Python's `colorsys`), reproduced with the same
/// mix of single and double precision so that 8-bit results match bit for bit.
enum HSV {
    /// RGB to 8-bit hue, saturation and value.
    @inline(__always)
    static func fromRGB(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (UInt8, UInt8, UInt8) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        if minc == maxc { return (0, 0, maxc) }
        let cr = Float(maxc - minc)
        var h: Float
        // Only the two quotients the branch uses are computed; each is Pillow's own division.
        if r == maxc {
            h = Float(maxc - b) / cr - Float(maxc - g) / cr
        } else if g == maxc {
            h = Float(2.0 + Double(Float(maxc - r) / cr) - Double(Float(maxc - b) / cr))
        } else {
            h = Float(4.0 + Double(Float(maxc - g) / cr) - Double(Float(maxc - r) / cr))
        }
        // fmod(x, 1) for x in (0, 2): subtracting 1 is exact there, and much cheaper.
        let turn = Double(h) / 6.0 + 1.0
        h = Float(turn >= 1 ? turn - 1 : turn)
        return (UInt8(clamping: Int(Double(h) * 255.0)), saturation[Int(maxc) << 8 | Int(maxc - minc)], maxc)
    }

    /// Pillow's 8-bit saturation `Int((cr / maxc) * 255.0)` for every (maxc, cr), indexed by `maxc << 8 | cr`.
    private static let saturation: [UInt8] = (0..<65536).map { index in
        let maxc = index >> 8, range = index & 255
        guard maxc > 0 && range <= maxc else { return 0 }
        let s = Float(range) / Float(maxc)
        return UInt8(clamping: Int(Double(s) * 255.0))
    }

    /// For each 8-bit hue: the sextant `i` and the fraction `f` within it, as Pillow computes them.
    private static let sextants: [(Int, Double)] = (0..<256).map { h in
        let scaled = Double(Float(h)) * 6.0 / 255.0
        let i = Int(scaled)  // non-negative, so truncation is floor
        return (i, Double(Float(scaled - Double(Float(i)))))
    }

    /// For each 8-bit saturation: `s / 255` rounded to single precision, widened.
    private static let saturationFractions: [Double] = (0..<256).map { Double(Float(Double(Float($0)) / 255.0)) }

    /// 8-bit hue, saturation and value to RGB.
    @inline(__always)
    static func toRGB(_ h: UInt8, _ s: UInt8, _ v: UInt8) -> (UInt8, UInt8, UInt8) {
        if s == 0 { return (v, v, v) }
        let (i, f) = sextants[Int(h)]
        let fs = saturationFractions[Int(s)]
        let value = Double(Float(v))
        let p = UInt8(clamping: roundHalfUp(value * (1.0 - fs)))
        let q = UInt8(clamping: roundHalfUp(value * (1.0 - fs * f)))
        let t = UInt8(clamping: roundHalfUp(value * (1.0 - fs * (1.0 - f))))
        switch i % 6 {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// C's `round` for a non-negative value below 2^52 (halves away from zero), without a libm call:
    /// the fraction after truncation is exact there.
    @inline(__always)
    static func roundHalfUp(_ x: Double) -> Int {
        let whole = Int(x)
        return x - Double(whole) >= 0.5 ? whole + 1 : whole
    }

    /// Rotates the hue of a 16-bit colour by `turns`, in double precision without quantising.
    static func shiftHue(_ r: UInt16, _ g: UInt16, _ b: UInt16, by turns: Double) -> (UInt16, UInt16, UInt16) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        if minc == maxc { return (r, g, b) }
        let v = Double(maxc), cr = Double(maxc - minc), s = cr / v
        let rc = (v - Double(r)) / cr, gc = (v - Double(g)) / cr, bc = (v - Double(b)) / cr
        let h0 = r == maxc ? bc - gc : (g == maxc ? 2 + rc - bc : 4 + gc - rc)
        var h = fmod(h0 / 6 + 1 + turns, 1)
        if h < 0 { h += 1 }
        let scaled = h * 6
        let i = Int(scaled.rounded(.down))
        let f = scaled - Double(i)
        func sample(_ x: Double) -> UInt16 { UInt16(clamping: Int(x.rounded())) }
        let p = sample(v * (1 - s)), q = sample(v * (1 - s * f)), t = sample(v * (1 - s * (1 - f)))
        switch i % 6 {
        case 0: return (maxc, t, p)
        case 1: return (q, maxc, p)
        case 2: return (p, maxc, t)
        case 3: return (p, q, maxc)
        case 4: return (t, p, maxc)
        default: return (maxc, p, q)
        }
    }
}

/// Pillow's `ImageFilter.SMOOTH`: the 3 x 3 kernel (1 1 1, 1 5 1, 1 1 1) / 13 in single
/// precision, rounded; the outermost rows and columns are copied unfiltered, as is alpha.
enum Smooth {
    static func filtered(_ image: Image) -> Image {
        switch image.pixels {
        case .eight(let s):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: filtered(s, width: image.width, height: image.height, format: image.format))
        case .sixteen(let s):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: filtered(s, width: image.width, height: image.height, format: image.format))
        }
    }

    private static func filtered<S: PixelSample>(_ samples: [S], width: Int, height: Int,
                                                 format: PixelFormat) -> [S] {
        guard width > 2 && height > 2 else { return samples }
        let c = format.channels
        // Alpha is left alone: the enhancer puts the image's own alpha back on the filtered image.
        let colours = format.hasAlpha ? c - 1 : c
        let edge = Float(1) / Float(13), centre = Float(5) / Float(13)
        let maxValue = Float(S.max)
        var out = samples
        samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let stride = width * c
                for y in 1..<(height - 1) {
                    let below = src.baseAddress.map { $0 + (y + 1) * stride }
                    let row = src.baseAddress.map { $0 + y * stride }
                    let above = src.baseAddress.map { $0 + (y - 1) * stride }
                    guard let below, let row, let above, let output = dst.baseAddress.map({ $0 + y * stride }) else { return }
                    // Sample i of this row has its left and right neighbours at i - c and i + c.
                    for i in c..<(stride - c) where colours == c || i % c != colours {
                        // Pillow's order: the row below, the row itself, the row above, each a sum of three.
                        var sum: Float = 0.5
                        sum += Float(below[i - c]) * edge + Float(below[i]) * edge + Float(below[i + c]) * edge
                        sum += Float(row[i - c]) * edge + Float(row[i]) * centre + Float(row[i + c]) * edge
                        sum += Float(above[i - c]) * edge + Float(above[i]) * edge + Float(above[i + c]) * edge
                        output[i] = S(truncatingIfNeeded: Int32(min(max(sum, 0), maxValue)))
                    }
                }
            }
        }
        return out
    }
}
