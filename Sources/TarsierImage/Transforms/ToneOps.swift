extension ImageFunctional {
    /// Keeps the top `bits` bits of every colour sample (Pillow's `ImageOps.posterize`, on the
    /// 8-bit scale; a 16-bit image keeps the same levels). `bits` is 0...8.
    public static func posterize(_ image: Image, bits: Int) throws -> Image {
        try require((0...8).contains(bits), "posterize", "bits", "must be in 0...8, got \(bits)")
        return ToneCurve.apply(image) { maxValue in
            let depth = maxValue == 255 ? 8 : 16
            let mask = ~((1 << (depth - bits)) - 1) & maxValue
            return (0...maxValue).map { $0 & mask }
        }
    }

    /// Inverts every colour sample at or above `threshold` (Pillow's `ImageOps.solarize`); the
    /// threshold is on the 0...255 scale and scaled by 257 for 16-bit images.
    public static func solarize(_ image: Image, threshold: Double) throws -> Image {
        try require(!threshold.isNaN, "solarize", "threshold", "must be a number")
        return ToneCurve.apply(image) { maxValue in
            let limit = maxValue == 255 ? threshold : threshold * 257
            return (0...maxValue).map { Double($0) < limit ? $0 : maxValue - $0 }
        }
    }

    /// Inverts every colour sample (Pillow's `ImageOps.invert`).
    public static func invert(_ image: Image) -> Image {
        ToneCurve.apply(image) { maxValue in (0...maxValue).map { maxValue - $0 } }
    }

    /// Stretches each colour channel so its darkest sample becomes 0 and its lightest the
    /// maximum (Pillow's `ImageOps.autocontrast` with no cutoff).
    public static func autocontrast(_ image: Image) -> Image {
        ToneCurve.applyPerChannel(image) { histogram, maxValue in
            guard let low = histogram.firstIndex(where: { $0 > 0 }),
                  let high = histogram.lastIndex(where: { $0 > 0 }), high > low else {
                return Array(0...maxValue)
            }
            let scale = Double(maxValue) / Double(high - low)
            let offset = -Double(low) * scale
            // Python's int() truncates toward zero before the clamp.
            return (0...maxValue).map { min(max(Int(Double($0) * scale + offset), 0), maxValue) }
        }
    }

    /// Equalizes each colour channel's histogram (Pillow's `ImageOps.equalize`: level `i` maps to
    /// the count of samples below it over `(count - count of the top level) / 255`, rounded).
    /// 16-bit images use the same ratio without Pillow's integer step, which would be zero for
    /// images of fewer than 65535 pixels.
    public static func equalize(_ image: Image) -> Image {
        ToneCurve.applyPerChannel(image) { histogram, maxValue in
            let used = histogram.filter { $0 > 0 }
            guard used.count > 1, let last = used.last else { return Array(0...maxValue) }
            let spread = used.reduce(0, +) - last
            var lut = [Int](repeating: 0, count: maxValue + 1)
            var below = 0
            if maxValue == 255 {
                let step = spread / maxValue
                guard step > 0 else { return Array(0...maxValue) }
                for i in 0...maxValue {
                    lut[i] = min((step / 2 + below) / step, maxValue)
                    below += histogram[i]
                }
            } else {
                for i in 0...maxValue {
                    lut[i] = min((2 * maxValue * below + spread) / (2 * spread), maxValue)
                    below += histogram[i]
                }
            }
            return lut
        }
    }
}

/// Sample-to-sample lookup tables applied to the colour channels (alpha is left alone).
enum ToneCurve {
    /// One table for every colour channel; `makeTable` gets the largest sample value.
    static func apply(_ image: Image, makeTable: (Int) -> [Int]) -> Image {
        let table = makeTable(image.maxSampleValue)
        return applyPerChannel(image) { _, _ in table }
    }

    /// A table per colour channel, made from that channel's histogram.
    static func applyPerChannel(_ image: Image, makeTable: (_ histogram: [Int], _ maxValue: Int) -> [Int]) -> Image {
        func run<S: PixelSample>(_ samples: [S]) -> Image {
            let c = image.channels, colours = image.format.hasAlpha ? c - 1 : c
            let maxValue = Int(S.max)
            var out = samples
            for ch in 0..<colours {
                var histogram = [Int](repeating: 0, count: maxValue + 1)
                var i = ch
                while i < samples.count {
                    histogram[Int(samples[i])] += 1
                    i += c
                }
                let table = makeTable(histogram, maxValue).map { S(clamping: $0) }
                i = ch
                while i < samples.count {
                    out[i] = table[Int(samples[i])]
                    i += c
                }
            }
            return Image(width: image.width, height: image.height, format: image.format, samples: out)
        }
        switch image.pixels {
        case .eight(let samples): return run(samples)
        case .sixteen(let samples): return run(samples)
        }
    }
}
