/// Premultiplied alpha, which Pillow uses to resample and warp LA and RGBA images so that
/// transparent pixels do not bleed their colour into their neighbours.
enum Alpha {
    /// Colour samples multiplied by alpha (Pillow's RGBA to RGBa: `(c * a + 128) * 257 >> 16` for
    /// 8 bits; rounded `c * a / 65535` for 16).
    static func premultiplied(_ image: Image) -> Image {
        switch image.pixels {
        case .eight(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: map(samples, channels: image.channels) { value, alpha in
                             let t = UInt32(value) * UInt32(alpha) + 128
                             return UInt8(((t >> 8) + t) >> 8)
                         })
        case .sixteen(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: map(samples, channels: image.channels) { value, alpha in
                             UInt16((UInt64(value) * UInt64(alpha) + 32767) / 65535)
                         })
        }
    }

    /// Colour samples divided by alpha again (Pillow's RGBa to RGBA: `min(255, 255 * c / a)`,
    /// truncating; fully transparent and fully opaque pixels are kept as they are).
    static func unpremultiplied(_ image: Image) -> Image {
        switch image.pixels {
        case .eight(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: map(samples, channels: image.channels) { value, alpha in
                             alpha == 0 || alpha == 255 ? value : UInt8(min(255, 255 * Int(value) / Int(alpha)))
                         })
        case .sixteen(let samples):
            return Image(width: image.width, height: image.height, format: image.format,
                         samples: map(samples, channels: image.channels) { value, alpha in
                             alpha == 0 || alpha == 65535 ? value : UInt16(min(65535, 65535 * Int(value) / Int(alpha)))
                         })
        }
    }

    private static func map<S: PixelSample>(_ samples: [S], channels: Int, _ body: (S, S) -> S) -> [S] {
        var out = samples
        var i = 0
        while i < out.count {
            let alpha = out[i + channels - 1]
            for c in 0..<(channels - 1) { out[i + c] = body(out[i + c], alpha) }
            i += channels
        }
        return out
    }
}
