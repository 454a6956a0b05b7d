/// What fills the border `pad` adds (torchvision's `padding_mode`).
public enum PaddingMode: String, Sendable, CaseIterable, Codable {
    /// A constant colour (`fill`).
    case constant
    /// The nearest edge pixel repeated.
    case edge
    /// The image mirrored about its edge pixels, which are not repeated: 3 2 | 1 2 3 4 | 3 2.
    case reflect
    /// The image mirrored about its edges, edge pixels repeated: 2 1 | 1 2 3 4 | 4 3.
    case symmetric

    /// The source index for padded index `i` of a dimension of `n` pixels, or -1 for fill.
    /// Reflection is periodic, which is what NumPy's `pad` gives for borders wider than the image.
    func sourceIndex(_ i: Int, count n: Int) -> Int {
        if i >= 0 && i < n { return i }
        switch self {
        case .constant:
            return -1
        case .edge:
            return i < 0 ? 0 : n - 1
        case .reflect:
            if n == 1 { return 0 }
            let period = 2 * (n - 1)
            let j = ((i % period) + period) % period
            return j >= n ? period - j : j
        case .symmetric:
            let period = 2 * n
            let j = ((i % period) + period) % period
            return j >= n ? period - 1 - j : j
        }
    }
}

extension ImageFunctional {
    /// Adds a border of the given widths (torchvision's `pad` on a PIL image). Negative widths crop.
    /// - Parameters:
    ///   - fill: For `.constant`: one value for every channel or one per channel (alpha included),
    ///     in the image's sample range (0...255, or 0...65535 for 16-bit images; clamped to it).
    public static func pad(_ image: Image, left: Int, top: Int, right: Int, bottom: Int,
                           fill: [Int] = [0], mode: PaddingMode = .constant) throws -> Image {
        let width = image.width + left + right, height = image.height + top + bottom
        try require(width > 0 && height > 0, "pad", "padding",
                    "(\(left), \(top), \(right), \(bottom)) leaves no pixels of a \(image.size) image")
        var source = image
        var (l, t) = (left, top)
        if mode != .constant && (left < 0 || top < 0 || right < 0 || bottom < 0) {
            // Torchvision crops away negative padding before padding with the rest.
            source = Geometry.crop(image, left: max(-left, 0), top: max(-top, 0),
                                   width: image.width - max(-left, 0) - max(-right, 0),
                                   height: image.height - max(-top, 0) - max(-bottom, 0))
            (l, t) = (max(left, 0), max(top, 0))
        }
        let columns = (0..<width).map { mode.sourceIndex($0 - l, count: source.width) }
        let rows = (0..<height).map { mode.sourceIndex($0 - t, count: source.height) }
        switch source.pixels {
        case .eight(let samples):
            return Geometry.gather(samples, source, columns: columns, rows: rows,
                                   fill: try source.fillSamples(fill, as: UInt8.self, transform: "pad"))
        case .sixteen(let samples):
            return Geometry.gather(samples, source, columns: columns, rows: rows,
                                   fill: try source.fillSamples(fill, as: UInt16.self, transform: "pad"))
        }
    }

    /// The same border on every side.
    public static func pad(_ image: Image, padding: Int, fill: [Int] = [0], mode: PaddingMode = .constant) throws -> Image {
        try pad(image, left: padding, top: padding, right: padding, bottom: padding, fill: fill, mode: mode)
    }
}
