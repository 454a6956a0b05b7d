#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// A separable resampling filter of Pillow's `Resample.c`.
enum ResampleFilter {
    /// The triangle (tent) filter, support 1.
    case triangle
    /// Keys' cubic convolution with a = -0.5, support 2.
    case cubic

    /// Half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .triangle: return 1
        case .cubic: return 2
        }
    }

    /// The filter's weight at distance `x`, with Pillow's expressions so the double-precision
    /// weights (and so the integer coefficients) come out bit for bit the same.
    @inline(__always)
    func weight(_ x: Double) -> Double {
        let x = x < 0 ? -x : x
        switch self {
        case .triangle:
            return x < 1 ? 1 - x : 0
        case .cubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// The taps of one resampling direction: for every output position, the first input index, how
/// many inputs it reads and their normalised weights (Pillow's `precompute_coeffs`).
struct ResampleTaps {
    /// Stride between the weights of consecutive outputs.
    let stride: Int
    /// First input index of each output, relative to the region's start.
    let starts: [Int]
    /// Number of inputs each output reads.
    let counts: [Int]
    /// `outputs * stride` weights, each output's summing to 1.
    let weights: [Double]

    /// Taps for resampling `inputSize` samples to `outputSize`.
    init(inputSize: Int, outputSize: Int, filter: ResampleFilter) {
        // Pillow takes the box edges as 32-bit floats; with a whole-image box they are exact.
        self.init(inputSize: inputSize, start: 0, end: Double(Float(inputSize)), outputSize: outputSize, filter: filter)
    }

    /// Taps for resampling the span `start..<end` (in input samples, fractions allowed) of
    /// `inputSize` samples to `outputSize`, as Pillow's `resize(box=...)`; taps outside
    /// `0..<inputSize` are dropped and the rest renormalised.
    init(inputSize: Int, start: Double, end: Double, outputSize: Int, filter: ResampleFilter) {
        let scale = (end - start) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Double](repeating: 0, count: outputSize * stride)
        let inverse = 1 / filterScale
        for out in 0..<outputSize {
            let center = start + (Double(out) + 0.5) * scale
            // `Int(_:)` truncates toward zero as C's cast does; Pillow relies on that here.
            let first = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inputSize)
            let count = end - first
            var total = 0.0
            let base = out * stride
            for tap in 0..<count {
                let w = filter.weight((Double(tap + first) - center + 0.5) * inverse)
                weights[base + tap] = w
                total += w
            }
            if total != 0 {
                for tap in 0..<count { weights[base + tap] /= total }
            }
            starts[out] = first
            counts[out] = count
        }
        self.stride = stride
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }

    /// The weights as fixed-point integers with `resampleFractionBits` bits after the point,
    /// rounded half away from zero as Pillow's `normalize_coeffs_8bpc`.
    func fixedPointWeights() -> [Int32] {
        let one = Double(1 << resampleFractionBits)
        return weights.map { w in w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one) }
    }

    /// First input used by any output.
    var firstUsed: Int { starts.first ?? 0 }
    /// One past the last input used by any output.
    var endUsed: Int { (starts.last ?? 0) + (counts.last ?? 0) }
}

/// Fraction bits of the 8-bit path's fixed-point weights: 32 bits less 8 for the sample and 2 of
/// headroom for negative lobes, as Pillow's `PRECISION_BITS`.
let resampleFractionBits = 22

/// A rectangle of an image, in pixels; it must lie inside the image.
struct PixelRegion {
    var left: Int
    var top: Int
    var width: Int
    var height: Int
}

enum Resampler {
    /// Resamples `region` of `image` to `width` x `height` as Pillow's `crop(region).resize(size, filter)`:
    /// a horizontal pass over the rows the vertical pass needs, rounded to the sample type, then a
    /// vertical pass. 8-bit samples use Pillow's 22-bit fixed-point weights (bit-exact with Pillow),
    /// 16-bit samples double-precision weights rounded half away from zero (Pillow's 16-bit path).
    /// Images with alpha are resampled premultiplied, as Pillow does for LA and RGBA.
    static func resample(_ image: Image, region: PixelRegion, width: Int, height: Int,
                         filter: ResampleFilter) -> Image {
        precondition(region.left >= 0 && region.top >= 0 && region.width > 0 && region.height > 0
                     && region.left + region.width <= image.width && region.top + region.height <= image.height,
                     "resample region outside the image")
        if image.format.hasAlpha {
            let cropped = Geometry.crop(image, left: region.left, top: region.top,
                                        width: region.width, height: region.height)
            let premultiplied = Alpha.premultiplied(cropped)
            let whole = PixelRegion(left: 0, top: 0, width: region.width, height: region.height)
            let resized = resampleOpaque(premultiplied, region: whole, width: width, height: height, filter: filter)
            return Alpha.unpremultiplied(resized)
        }
        return resampleOpaque(image, region: region, width: width, height: height, filter: filter)
    }

    /// Resamples the box `left..<right` x `top..<bottom` of `image` (fractional edges allowed) to
    /// `width` x `height` as Pillow's `resize(size, filter, box)`, except that the filter reads
    /// nothing outside the whole pixels the box touches, as if they had been cropped first. With
    /// whole-pixel edges this is `resample(_:region:width:height:filter:)`.
    static func resample(_ image: Image, left: Double, top: Double, right: Double, bottom: Double,
                         width: Int, height: Int, filter: ResampleFilter) -> Image {
        let x0 = min(max(Int(left.rounded(.down)), 0), image.width - 1)
        let y0 = min(max(Int(top.rounded(.down)), 0), image.height - 1)
        let x1 = max(min(Int(right.rounded(.up)), image.width), x0 + 1)
        let y1 = max(min(Int(bottom.rounded(.up)), image.height), y0 + 1)
        let region = PixelRegion(left: x0, top: y0, width: x1 - x0, height: y1 - y0)
        let spans = (x: (left - Double(x0), right - Double(x0)), y: (top - Double(y0), bottom - Double(y0)))
        if image.format.hasAlpha {
            let cropped = Geometry.crop(image, left: region.left, top: region.top,
                                        width: region.width, height: region.height)
            let whole = PixelRegion(left: 0, top: 0, width: region.width, height: region.height)
            let resized = resampleOpaque(Alpha.premultiplied(cropped), region: whole, width: width, height: height,
                                         filter: filter, spans: spans)
            return Alpha.unpremultiplied(resized)
        }
        return resampleOpaque(image, region: region, width: width, height: height, filter: filter, spans: spans)
    }

    /// `spans` are the spans of the region to resample, relative to its corner; nil is all of it.
    private static func resampleOpaque(_ image: Image, region: PixelRegion, width: Int, height: Int,
                                       filter: ResampleFilter,
                                       spans: (x: (Double, Double), y: (Double, Double))? = nil) -> Image {
        let wholeWidth = spans.map { $0.x.0 == 0 && $0.x.1 == Double(region.width) } ?? true
        let wholeHeight = spans.map { $0.y.0 == 0 && $0.y.1 == Double(region.height) } ?? true
        let needHorizontal = width != region.width || !wholeWidth
        let needVertical = height != region.height || !wholeHeight
        if !needHorizontal && !needVertical {
            return Geometry.crop(image, left: region.left, top: region.top, width: region.width, height: region.height)
        }
        func taps(_ size: Int, _ span: (Double, Double)?, _ output: Int) -> ResampleTaps {
            guard let span else { return ResampleTaps(inputSize: size, outputSize: output, filter: filter) }
            return ResampleTaps(inputSize: size, start: span.0, end: span.1, outputSize: output, filter: filter)
        }
        let vertical = taps(region.height, spans?.y, height)
        let horizontal = needHorizontal ? taps(region.width, spans?.x, width) : nil
        switch image.pixels {
        case .eight(let samples):
            return Image(width: width, height: height, format: image.format,
                         bytes: eightBit(samples, imageWidth: image.width, channels: image.channels, region: region,
                                         horizontal: horizontal, vertical: needVertical ? vertical : nil,
                                         outWidth: width, outHeight: height))
        case .sixteen(let samples):
            return Image(width: width, height: height, format: image.format,
                         pixels: .sixteen(sixteenBit(samples, imageWidth: image.width, channels: image.channels,
                                                     region: region, horizontal: horizontal,
                                                     vertical: needVertical ? vertical : nil,
                                                     outWidth: width, outHeight: height)))
        }
    }

    // MARK: 8-bit, fixed point

    /// The 8-bit two-pass resample; `horizontal` or `vertical` nil skips that pass.
    private static func eightBit(_ samples: [UInt8], imageWidth: Int, channels: Int, region: PixelRegion,
                                 horizontal: ResampleTaps?, vertical: ResampleTaps?,
                                 outWidth: Int, outHeight: Int) -> [UInt8] {
        // Rows of the region the vertical pass reads (all of them when there is no vertical pass).
        let rowFirst = vertical?.firstUsed ?? 0
        let rowEnd = vertical?.endUsed ?? region.height
        let rowLength = outWidth * channels
        let intermediate: [UInt8]
        let intermediateOffset: Int  // index of the region's first used row's first sample
        let intermediateStride: Int
        if let horizontal {
            let rows = rowEnd - rowFirst
            let weights = horizontal.fixedPointWeights()
            intermediate = makeArray(count: rows * rowLength) { out in
                samples.withUnsafeBufferPointer { src in
                    weights.withUnsafeBufferPointer { k in
                        guard let output = out.baseAddress, let source = src.baseAddress,
                              let coefficients = k.baseAddress else { return }
                        for row in 0..<rows {
                            let input = source + ((region.top + rowFirst + row) * imageWidth + region.left) * channels
                            horizontalRow8(input, channels: channels, taps: horizontal, weights: coefficients,
                                           output: output + row * rowLength, outWidth: outWidth)
                        }
                    }
                }
            }
            intermediateOffset = 0
            intermediateStride = rowLength
        } else {
            intermediate = samples
            intermediateOffset = ((region.top + rowFirst) * imageWidth + region.left) * channels
            intermediateStride = imageWidth * channels
        }
        guard let vertical else {
            if intermediateOffset == 0 && intermediateStride == rowLength { return intermediate }
            return makeArray(count: outHeight * rowLength) { out in
                intermediate.withUnsafeBufferPointer { src in
                    guard let output = out.baseAddress, let source = src.baseAddress else { return }
                    for row in 0..<outHeight {
                        (output + row * rowLength).initialize(
                            from: source + intermediateOffset + row * intermediateStride, count: rowLength)
                    }
                }
            }
        }
        let weights = vertical.fixedPointWeights()
        let rounding = Int32(1 << (resampleFractionBits - 1))
        return makeArray(count: outHeight * rowLength) { out in
            intermediate.withUnsafeBufferPointer { src in
                weights.withUnsafeBufferPointer { k in
                    guard let output = out.baseAddress, let source = src.baseAddress,
                          let coefficients = k.baseAddress else { return }
                    let accumulator = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
                    defer { accumulator.deallocate() }
                    for y in 0..<outHeight {
                        accumulator.initialize(repeating: rounding, count: rowLength)
                        let first = vertical.starts[y] - rowFirst
                        let taps = coefficients + y * vertical.stride
                        // Row by row rather than pixel by pixel: the sums are the same integers,
                        // and the inner loop is contiguous so it vectorises.
                        for tap in 0..<vertical.counts[y] {
                            let input = source + intermediateOffset + (first + tap) * intermediateStride
                            let w = taps[tap]
                            for i in 0..<rowLength { accumulator[i] &+= Int32(input[i]) &* w }
                        }
                        let row = output + y * rowLength
                        for i in 0..<rowLength { row[i] = clip8(accumulator[i]) }
                    }
                }
            }
        }
    }

    /// Pillow's `clip8`: drops the fraction bits and clamps to 0...255.
    @inline(__always)
    private static func clip8(_ sum: Int32) -> UInt8 {
        UInt8(clamping: sum >> Int32(resampleFractionBits))
    }

    /// One row of the horizontal pass: `outWidth` pixels, each a weighted sum of its input taps.
    @inline(__always)
    private static func horizontalRow8(_ input: UnsafePointer<UInt8>, channels: Int, taps: ResampleTaps,
                                       weights: UnsafePointer<Int32>, output: UnsafeMutablePointer<UInt8>,
                                       outWidth: Int) {
        let rounding = Int32(1 << (resampleFractionBits - 1))
        taps.starts.withUnsafeBufferPointer { starts in
            taps.counts.withUnsafeBufferPointer { counts in
                switch channels {
                case 1:
                    for x in 0..<outWidth {
                        let k = weights + x * taps.stride
                        let p = input + starts[x]
                        var s0 = rounding
                        for t in 0..<counts[x] { s0 &+= Int32(p[t]) &* k[t] }
                        output[x] = clip8(s0)
                    }
                case 3:
                    for x in 0..<outWidth {
                        let k = weights + x * taps.stride
                        var p = input + starts[x] * 3
                        var s0 = rounding, s1 = rounding, s2 = rounding
                        for t in 0..<counts[x] {
                            let w = k[t]
                            s0 &+= Int32(p[0]) &* w
                            s1 &+= Int32(p[1]) &* w
                            s2 &+= Int32(p[2]) &* w
                            p += 3
                        }
                        let o = output + x * 3
                        o[0] = clip8(s0)
                        o[1] = clip8(s1)
                        o[2] = clip8(s2)
                    }
                case 4:
                    for x in 0..<outWidth {
                        let k = weights + x * taps.stride
                        var p = input + starts[x] * 4
                        var s0 = rounding, s1 = rounding, s2 = rounding, s3 = rounding
                        for t in 0..<counts[x] {
                            let w = k[t]
                            s0 &+= Int32(p[0]) &* w
                            s1 &+= Int32(p[1]) &* w
                            s2 &+= Int32(p[2]) &* w
                            s3 &+= Int32(p[3]) &* w
                            p += 4
                        }
                        let o = output + x * 4
                        o[0] = clip8(s0)
                        o[1] = clip8(s1)
                        o[2] = clip8(s2)
                        o[3] = clip8(s3)
                    }
                default:
                    for x in 0..<outWidth {
                        let k = weights + x * taps.stride
                        for c in 0..<channels {
                            let p = input + starts[x] * channels + c
                            var s = rounding
                            for t in 0..<counts[x] { s &+= Int32(p[t * channels]) &* k[t] }
                            output[x * channels + c] = clip8(s)
                        }
                    }
                }
            }
        }
    }

    // MARK: 16-bit, double precision

    /// The 16-bit two-pass resample, rounding to whole samples between the passes.
    private static func sixteenBit(_ samples: [UInt16], imageWidth: Int, channels: Int, region: PixelRegion,
                                   horizontal: ResampleTaps?, vertical: ResampleTaps?,
                                   outWidth: Int, outHeight: Int) -> [UInt16] {
        let rowFirst = vertical?.firstUsed ?? 0
        let rowEnd = vertical?.endUsed ?? region.height
        let rowLength = outWidth * channels
        var intermediate: [UInt16]
        var offset: Int
        var stride: Int
        if let horizontal {
            let rows = rowEnd - rowFirst
            intermediate = [UInt16](repeating: 0, count: rows * rowLength)
            for row in 0..<rows {
                let input = ((region.top + rowFirst + row) * imageWidth + region.left) * channels
                for x in 0..<outWidth {
                    let k = x * horizontal.stride
                    for c in 0..<channels {
                        var sum = 0.0
                        for t in 0..<horizontal.counts[x] {
                            sum += Double(samples[input + (horizontal.starts[x] + t) * channels + c]) * horizontal.weights[k + t]
                        }
                        intermediate[row * rowLength + x * channels + c] = round16(sum)
                    }
                }
            }
            offset = 0
            stride = rowLength
        } else {
            intermediate = samples
            offset = ((region.top + rowFirst) * imageWidth + region.left) * channels
            stride = imageWidth * channels
        }
        guard let vertical else {
            var out = [UInt16](repeating: 0, count: outHeight * rowLength)
            for row in 0..<outHeight {
                for i in 0..<rowLength { out[row * rowLength + i] = intermediate[offset + row * stride + i] }
            }
            return out
        }
        var out = [UInt16](repeating: 0, count: outHeight * rowLength)
        var accumulator = [Double](repeating: 0, count: rowLength)
        for y in 0..<outHeight {
            for i in 0..<rowLength { accumulator[i] = 0 }
            let first = vertical.starts[y] - rowFirst
            for tap in 0..<vertical.counts[y] {
                let w = vertical.weights[y * vertical.stride + tap]
                let input = offset + (first + tap) * stride
                for i in 0..<rowLength { accumulator[i] += Double(intermediate[input + i]) * w }
            }
            for i in 0..<rowLength { out[y * rowLength + i] = round16(accumulator[i]) }
        }
        return out
    }

    /// Rounds half away from zero (Pillow's `ROUND_UP`) and clamps to 0...65535.
    @inline(__always)
    private static func round16(_ value: Double) -> UInt16 {
        let rounded = value >= 0 ? Int(value + 0.5) : Int(value - 0.5)
        return UInt16(clamping: rounded)
    }

    // MARK: Nearest neighbour

    /// Pillow's nearest-neighbour resize of `region` to `width` x `height`. 8-bit images step
    /// through the source by repeated addition, as Pillow's `ImagingScaleAffine`; 16-bit images
    /// compute each position directly, as its generic transform does for I;16.
    static func nearest(_ image: Image, region: PixelRegion, width: Int, height: Int) -> Image {
        let xScale = Double(Float(region.width)) / Double(width)
        let yScale = Double(Float(region.height)) / Double(height)
        let accumulate = image.bitDepth == 8
        func indices(count: Int, scale: Double, limit: Int) -> [Int] {
            var result = [Int](repeating: -1, count: count)
            var position = 0 + scale * 0.5
            for i in 0..<count {
                let source = accumulate ? position : scale * (Double(i) + 0.5) + 0
                let index = source < 0 ? -1 : Int(source)
                result[i] = index < limit ? index : -1
                position += scale
            }
            return result
        }
        let columns = indices(count: width, scale: xScale, limit: region.width)
        let rows = indices(count: height, scale: yScale, limit: region.height)
        switch image.pixels {
        case .eight(let samples):
            return nearestGather(samples, image: image, region: region, columns: columns, rows: rows)
        case .sixteen(let samples):
            return nearestGather(samples, image: image, region: region, columns: columns, rows: rows)
        }
    }

    private static func nearestGather<S: PixelSample>(_ samples: [S], image: Image, region: PixelRegion,
                                                      columns: [Int], rows: [Int]) -> Image {
        let c = image.channels
        let width = columns.count, height = rows.count
        let out: [S] = makeArray(count: width * height * c) { out in
            samples.withUnsafeBufferPointer { src in
                guard let output = out.baseAddress, let source = src.baseAddress else { return }
                for y in 0..<height {
                    let o = output + y * width * c
                    // Positions past the region's edge keep Pillow's fill: zero.
                    guard rows[y] >= 0 else {
                        o.initialize(repeating: 0, count: width * c)
                        continue
                    }
                    let row = source + ((region.top + rows[y]) * image.width + region.left) * c
                    for x in 0..<width {
                        let column = columns[x]
                        for ch in 0..<c { o[x * c + ch] = column >= 0 ? row[column * c + ch] : 0 }
                    }
                }
            }
        }
        return Image(width: width, height: height, format: image.format, samples: out)
    }
}
