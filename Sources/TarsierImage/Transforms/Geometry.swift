/// Pixel copies that move samples without changing them: crops, flips and padding.
enum Geometry {
    /// The `width` x `height` box at (`left`, `top`); pixels outside the image are zero, as
    /// Pillow's `Image.crop`.
    static func crop(_ image: Image, left: Int, top: Int, width: Int, height: Int) -> Image {
        if left == 0 && top == 0 && width == image.width && height == image.height { return image }
        switch image.pixels {
        case .eight(let samples): return crop(samples, image, left: left, top: top, width: width, height: height)
        case .sixteen(let samples): return crop(samples, image, left: left, top: top, width: width, height: height)
        }
    }

    private static func crop<S: PixelSample>(_ samples: [S], _ image: Image, left: Int, top: Int,
                                             width: Int, height: Int) -> Image {
        let c = image.channels
        // The columns of the box that fall inside the image.
        let x0 = min(max(left, 0), left + width), x1 = max(min(left + width, image.width), x0)
        let out: [S] = makeArray(count: width * height * c) { out in
            samples.withUnsafeBufferPointer { src in
                guard let output = out.baseAddress, let source = src.baseAddress else { return }
                output.initialize(repeating: 0, count: width * height * c)
                guard x1 > x0 else { return }
                for y in 0..<height {
                    let sourceRow = top + y
                    guard sourceRow >= 0 && sourceRow < image.height else { continue }
                    (output + (y * width + x0 - left) * c).update(
                        from: source + (sourceRow * image.width + x0) * c, count: (x1 - x0) * c)
                }
            }
        }
        return Image(width: width, height: height, format: image.format, samples: out)
    }

    /// The image mirrored left to right.
    static func flippedHorizontally(_ image: Image) -> Image {
        switch image.pixels {
        case .eight(let samples): return flippedHorizontally(samples, image)
        case .sixteen(let samples): return flippedHorizontally(samples, image)
        }
    }

    private static func flippedHorizontally<S: PixelSample>(_ samples: [S], _ image: Image) -> Image {
        let c = image.channels, w = image.width
        let out: [S] = makeArray(count: samples.count) { out in
            samples.withUnsafeBufferPointer { src in
                guard let output = out.baseAddress, let source = src.baseAddress else { return }
                for y in 0..<image.height {
                    let input = source + y * w * c, row = output + y * w * c
                    switch c {
                    case 1:
                        for x in 0..<w { row[x] = input[w - 1 - x] }
                    case 3:
                        for x in 0..<w {
                            let p = input + (w - 1 - x) * 3, o = row + x * 3
                            o[0] = p[0]; o[1] = p[1]; o[2] = p[2]
                        }
                    default:
                        for x in 0..<w {
                            for ch in 0..<c { row[x * c + ch] = input[(w - 1 - x) * c + ch] }
                        }
                    }
                }
            }
        }
        return Image(width: w, height: image.height, format: image.format, samples: out)
    }

    /// The image mirrored top to bottom.
    static func flippedVertically(_ image: Image) -> Image {
        switch image.pixels {
        case .eight(let samples): return flippedVertically(samples, image)
        case .sixteen(let samples): return flippedVertically(samples, image)
        }
    }

    private static func flippedVertically<S: PixelSample>(_ samples: [S], _ image: Image) -> Image {
        let rowLength = image.width * image.channels, h = image.height
        let out: [S] = makeArray(count: samples.count) { out in
            samples.withUnsafeBufferPointer { src in
                guard let output = out.baseAddress, let source = src.baseAddress else { return }
                for y in 0..<h {
                    (output + y * rowLength).initialize(from: source + (h - 1 - y) * rowLength, count: rowLength)
                }
            }
        }
        return Image(width: image.width, height: h, format: image.format, samples: out)
    }

    /// Builds an image whose pixel (x, y) is source pixel (`columns[x]`, `rows[y]`), or `fill`
    /// where either index is negative.
    static func gather<S: PixelSample>(_ samples: [S], _ image: Image, columns: [Int], rows: [Int],
                                       fill: [S]) -> Image {
        let c = image.channels, width = columns.count, height = rows.count
        let out: [S] = makeArray(count: width * height * c) { out in
            samples.withUnsafeBufferPointer { src in
                guard let output = out.baseAddress, let source = src.baseAddress else { return }
                for y in 0..<height {
                    let row = output + y * width * c
                    let sourceRow = rows[y]
                    for x in 0..<width {
                        let column = columns[x]
                        if sourceRow >= 0 && column >= 0 {
                            let p = source + (sourceRow * image.width + column) * c
                            for ch in 0..<c { row[x * c + ch] = p[ch] }
                        } else {
                            for ch in 0..<c { row[x * c + ch] = fill[ch] }
                        }
                    }
                }
            }
        }
        return Image(width: width, height: height, format: image.format, samples: out)
    }
}
