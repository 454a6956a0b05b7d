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
        return Blend.enhance(image, factor: factor) { samples in
            Blend.degenerate(samples, format: image.format) { _ in 0 }
        }
    }

    /// Scales contrast: blends with the mean grey level, `Int(mean + 0.5)` of the grey image
    /// (Pillow's `ImageEnhance.Contrast`). 0 gives a flat grey image, 1 the original.
    public static func adjustContrast(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustContrast", "factor")
        return Blend.enhance(image, factor: factor) { samples in
            let luma = Luma.values(samples, format: image.format)
            var total = 0.0
            for value in luma { total += Double(value) }
            let mean = Int(total / Double(luma.count) + 0.5)
            return Blend.degenerate(samples, format: image.format) { _ in mean }
        }
    }

    /// Scales saturation: blends with the grey image (Pillow's `ImageEnhance.Color`). 0 gives grey,
    /// 1 the original; grey images are returned as they are.
    public static func adjustSaturation(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustSaturation", "factor")
        if image.channels < 3 { return image }
        return Blend.enhance(image, factor: factor) { samples in
            let luma = Luma.values(samples, format: image.format)
            return Blend.degenerate(samples, format: image.format) { luma[$0] }
        }
    }

    /// Scales sharpness: blends with Pillow's SMOOTH-filtered image (`ImageEnhance.Sharpness`,
    /// torchvision's `adjust_sharpness` on PIL images). 0 blurs, 1 is the original, 2 sharpens.
    public static func adjustSharpness(_ image: Image, factor: Double) throws -> Image {
        try requireFactor(factor, "adjustSharpness", "factor")
        return Blend.enhance(image, factor: factor) { samples in
            Smooth.filtered(samples, width: image.width, height: image.height, format: image.format)
        }
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

/// Pillow's `Image.blend`, the core of every `ImageEnhance` class.
enum Blend {
    /// `blend(degenerate, image, factor)`; `makeDegenerate` gets the samples (of the image's type).
    static func enhance(_ image: Image, factor: Double,
                        makeDegenerate: (AnySamples) -> AnySamples) -> Image {
        switch image.pixels {
        case .eight(let samples):
            guard case .eight(let degenerate) = makeDegenerate(.eight(samples)) else { return image }
            return Image(width: image.width, height: image.height, format: image.format,
                         bytes: blendEightBit(degenerate, samples, alpha: Float(factor)))
        case .sixteen(let samples):
            guard case .sixteen(let degenerate) = makeDegenerate(.sixteen(samples)) else { return image }
            return Image(width: image.width, height: image.height, format: image.format,
                         pixels: .sixteen(blendSixteenBit(degenerate, samples, alpha: factor)))
        }
    }

    /// Pillow's 8-bit blend: `in1 + alpha * (in2 - in1)` in single precision (Pillow takes the
    /// factor as a C float), truncated, clipped when extrapolating.
    static func blendEightBit(_ first: [UInt8], _ second: [UInt8], alpha: Float) -> [UInt8] {
        if alpha == 0 { return first }
        if alpha == 1 { return second }
        return makeArray(count: first.count) { out in
            first.withUnsafeBufferPointer { a in
                second.withUnsafeBufferPointer { b in
                    for i in 0..<out.count {
                        let x = Int32(a[i])
                        let value = Float(x) + alpha * Float(Int32(b[i]) - x)
                        // Clamped first, so the conversion truncates as C's cast does.
                        out[i] = UInt8(truncatingIfNeeded: Int32(min(max(value, 0), 255)))
                    }
                }
            }
        }
    }

    /// The same blend for 16-bit samples, in double precision.
    static func blendSixteenBit(_ first: [UInt16], _ second: [UInt16], alpha: Double) -> [UInt16] {
        if alpha == 0 { return first }
        if alpha == 1 { return second }
        return makeArray(count: first.count) { out in
            for i in 0..<first.count {
                let value = Double(first[i]) + alpha * (Double(second[i]) - Double(first[i]))
                out[i] = value <= 0 ? 0 : (value >= 65535 ? 65535 : UInt16(value))
            }
        }
    }

    /// An image whose colour samples of pixel `p` are all `level(p)` and whose alpha is the
    /// image's (the enhancers' `putalpha`).
    static func degenerate(_ samples: AnySamples, format: PixelFormat, level: (Int) -> Int) -> AnySamples {
        func build<S: PixelSample>(_ samples: [S]) -> [S] {
            let c = format.channels, colours = format.hasAlpha ? c - 1 : c
            var out = samples
            for p in 0..<(samples.count / c) {
                let value = S(clamping: level(p))
                for ch in 0..<colours { out[p * c + ch] = value }
            }
            return out
        }
        switch samples {
        case .eight(let s): return .eight(build(s))
        case .sixteen(let s): return .sixteen(build(s))
        }
    }
}

/// Samples of either depth, for the degenerate images the enhancers blend with.
typealias AnySamples = PixelBuffer

/// Grey levels as Pillow's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point,
/// `(19595 R + 38470 G + 7471 B + 32768) >> 16`.
enum Luma {
    /// One grey level per pixel.
    static func values(_ samples: AnySamples, format: PixelFormat) -> [Int] {
        switch samples {
        case .eight(let s): return values(s, format: format)
        case .sixteen(let s): return values(s, format: format)
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
    static func fromRGB(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (UInt8, UInt8, UInt8) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        if minc == maxc { return (0, 0, maxc) }
        let cr = Float(maxc - minc)
        let s = cr / Float(maxc)
        let rc = Float(maxc - r) / cr, gc = Float(maxc - g) / cr, bc = Float(maxc - b) / cr
        var h: Float
        if r == maxc {
            h = bc - gc
        } else if g == maxc {
            h = Float(2.0 + Double(rc) - Double(bc))
        } else {
            h = Float(4.0 + Double(gc) - Double(rc))
        }
        // fmod(x, 1) for x in (0, 2): subtracting 1 is exact there, and much cheaper.
        let turn = Double(h) / 6.0 + 1.0
        h = Float(turn >= 1 ? turn - 1 : turn)
        return (UInt8(clamping: Int(Double(h) * 255.0)), UInt8(clamping: Int(Double(s) * 255.0)), maxc)
    }

    /// 8-bit hue, saturation and value to RGB.
    static func toRGB(_ h: UInt8, _ s: UInt8, _ v: UInt8) -> (UInt8, UInt8, UInt8) {
        if s == 0 { return (v, v, v) }
        let scaled = Double(Float(h)) * 6.0 / 255.0
        let i = Int(scaled.rounded(.down))
        let f = Double(Float(scaled - Double(Float(i))))
        let fs = Double(Float(Double(Float(s)) / 255.0))
        let value = Double(Float(v))
        let p = UInt8(clamping: Int((value * (1.0 - fs)).rounded()))
        let q = UInt8(clamping: Int((value * (1.0 - fs * f)).rounded()))
        let t = UInt8(clamping: Int((value * (1.0 - fs * (1.0 - f))).rounded()))
        switch i % 6 {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
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
    static func filtered(_ samples: AnySamples, width: Int, height: Int, format: PixelFormat) -> AnySamples {
        switch samples {
        case .eight(let s): return .eight(filtered(s, width: width, height: height, format: format))
        case .sixteen(let s): return .sixteen(filtered(s, width: width, height: height, format: format))
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
                    let above = (y - 1) * stride, row = y * stride, below = (y + 1) * stride
                    for x in 1..<(width - 1) {
                        for ch in 0..<colours {
                            let l = (x - 1) * c + ch, m = x * c + ch, r = (x + 1) * c + ch
                            // Pillow's order: the row below, the row itself, the row above, each a sum of three.
                            var sum: Float = 0.5
                            sum += Float(src[below + l]) * edge + Float(src[below + m]) * edge + Float(src[below + r]) * edge
                            sum += Float(src[row + l]) * edge + Float(src[row + m]) * centre + Float(src[row + r]) * edge
                            sum += Float(src[above + l]) * edge + Float(src[above + m]) * edge + Float(src[above + r]) * edge
                            dst[row + m] = S(min(max(sum, 0), maxValue))
                        }
                    }
                }
            }
        }
        return out
    }
}
