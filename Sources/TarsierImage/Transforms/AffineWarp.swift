/// Pillow's `Image.transform(size, AFFINE, matrix, resample, fillcolor=fill)`: every output pixel
/// centre (x + 0.5, y + 0.5) is mapped through `matrix` (output to input) and sampled there; pixels
/// that map outside the image get `fill`. The sampling reproduces Pillow's `Geometry.c` on 8-bit
/// images, including its fixed-point nearest-neighbour path.
enum AffineWarp {
    /// Warps `image` into a `width` x `height` image; `matrix` is (a, b, c, d, e, f) with
    /// input x = a x + b y + c, input y = d x + e y + f.
    static func warp(_ image: Image, matrix: [Double], width: Int, height: Int, interpolation: Interpolation,
                     fill: [Int], transform: String) throws -> Image {
        precondition(matrix.count == 6, "an affine matrix has 6 entries")
        if image.format.hasAlpha && interpolation != .nearest {
            // Pillow blends LA and RGBA premultiplied, and so fills the premultiplied image too.
            let warped = try warpOpaque(Alpha.premultiplied(image), matrix: matrix, width: width, height: height,
                                        interpolation: interpolation, fill: fill, transform: transform)
            return Alpha.unpremultiplied(warped)
        }
        return try warpOpaque(image, matrix: matrix, width: width, height: height, interpolation: interpolation,
                              fill: fill, transform: transform)
    }

    private static func warpOpaque(_ image: Image, matrix: [Double], width: Int, height: Int,
                                   interpolation: Interpolation, fill: [Int], transform: String) throws -> Image {
        switch image.pixels {
        case .eight(let samples):
            let fill = try image.fillSamples(fill, as: UInt8.self, transform: transform)
            if interpolation == .nearest {
                return nearestEightBit(samples, image, matrix: matrix, width: width, height: height, fill: fill)
            }
            return generic(samples, image, matrix: matrix, width: width, height: height,
                           interpolation: interpolation, fill: fill)
        case .sixteen(let samples):
            let fill = try image.fillSamples(fill, as: UInt16.self, transform: transform)
            return generic(samples, image, matrix: matrix, width: width, height: height,
                           interpolation: interpolation, fill: fill)
        }
    }

    /// C's `(int)` of a coordinate, with everything left of zero mapped to -1 (Pillow's `COORD`).
    @inline(__always)
    private static func coordinate(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }

    /// Floor as Pillow's `FLOOR` macro.
    @inline(__always)
    private static func floorInt(_ v: Double) -> Int { v < 0 ? Int(v.rounded(.down)) : Int(v) }

    /// An output image filled with `fill`.
    private static func filled<S: PixelSample>(_ fill: [S], count: Int) -> [S] {
        var out = [S](repeating: 0, count: count * fill.count)
        if fill.contains(where: { $0 != 0 }) {
            for i in 0..<count { for c in 0..<fill.count { out[i * fill.count + c] = fill[c] } }
        }
        return out
    }

    // MARK: Nearest neighbour, 8-bit (Pillow's ImagingTransformAffine)

    private static func nearestEightBit(_ samples: [UInt8], _ image: Image, matrix a: [Double], width: Int,
                                        height: Int, fill: [UInt8]) -> Image {
        let c = image.channels, inWidth = image.width, inHeight = image.height
        var out = filled(fill, count: width * height)
        out.withUnsafeMutableBufferPointer { output in
            samples.withUnsafeBufferPointer { input in
                @inline(__always) func copy(_ x: Int, _ y: Int, _ sx: Int, _ sy: Int) {
                    let o = (y * width + x) * c, i = (sy * inWidth + sx) * c
                    for ch in 0..<c { output[o + ch] = input[i + ch] }
                }
                nearestEightBitSteps(a, width: width, height: height, inWidth: inWidth, inHeight: inHeight, copy: copy)
            }
        }
        return Image(width: width, height: height, format: image.format, bytes: out)
    }

    /// The three ways Pillow steps through the source for nearest-neighbour sampling; `copy(x, y,
    /// sx, sy)` takes output pixel (x, y) from source pixel (sx, sy).
    @inline(__always)
    private static func nearestEightBitSteps(_ a: [Double], width: Int, height: Int, inWidth: Int, inHeight: Int,
                                             copy: (Int, Int, Int, Int) -> Void) {
        if a[1] == 0 && a[3] == 0 {
            // Pure scale and offset: positions stepped by repeated addition (ImagingScaleAffine).
            var columns = [Int](repeating: 0, count: width)
            var xMin = width, xMax = 0
            var xo = a[2] + a[0] * 0.5
            for x in 0..<width {
                let sx = coordinate(xo)
                if sx >= 0 && sx < inWidth {
                    xMax = x + 1
                    if x < xMin { xMin = x }
                    columns[x] = sx
                }
                xo += a[0]
            }
            var yo = a[5] + a[4] * 0.5
            for y in 0..<height {
                let sy = coordinate(yo)
                if sy >= 0 && sy < inHeight && xMin < xMax {
                    for x in xMin..<xMax { copy(x, y, columns[x], sy) }
                }
                yo += a[4]
            }
        } else if fitsFixedPoint(a, width, height) {
            // 16.16 fixed point (affine_fixed); these integer steps decide Pillow's edge pixels.
            func fix(_ v: Double) -> Int { floorInt(v * 65536.0 + 0.5) }
            let a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4])
            var rowX = fix(a[2] + a[0] * 0.5 + a[1] * 0.5)
            var rowY = fix(a[5] + a[3] * 0.5 + a[4] * 0.5)
            for y in 0..<height {
                var xx = rowX, yy = rowY
                for x in 0..<width {
                    let sx = xx >> 16
                    if sx >= 0 && sx < inWidth {
                        let sy = yy >> 16
                        if sy >= 0 && sy < inHeight { copy(x, y, sx, sy) }
                    }
                    xx += a0
                    yy += a3
                }
                rowX += a1
                rowY += a4
            }
        } else {
            // Floating point stepping, for matrices too large for 16.16.
            var xo = a[2] + a[1] * 0.5 + a[0] * 0.5
            var yo = a[5] + a[4] * 0.5 + a[3] * 0.5
            for y in 0..<height {
                var xx = xo, yy = yo
                for x in 0..<width {
                    let sx = coordinate(xx)
                    if sx >= 0 && sx < inWidth {
                        let sy = coordinate(yy)
                        if sy >= 0 && sy < inHeight { copy(x, y, sx, sy) }
                    }
                    xx += a[0]
                    yy += a[3]
                }
                xo += a[1]
                yo += a[4]
            }
        }
    }

    /// Whether all four output corners map within ±32768, so 16.16 fixed point cannot overflow.
    private static func fitsFixedPoint(_ a: [Double], _ width: Int, _ height: Int) -> Bool {
        func check(_ x: Double, _ y: Double) -> Bool {
            abs(x * a[0] + y * a[1] + a[2]) < 32768.0 && abs(x * a[3] + y * a[4] + a[5]) < 32768.0
        }
        let w = Double(width), h = Double(height)
        return check(0, 0) && check(w, h) && check(0, h) && check(w, 0)
    }

    // MARK: Per-pixel sampling (Pillow's ImagingGenericTransform)

    private static func generic<S: PixelSample>(_ samples: [S], _ image: Image, matrix a: [Double], width: Int,
                                                height: Int, interpolation: Interpolation, fill: [S]) -> Image {
        let c = image.channels, inWidth = image.width, inHeight = image.height
        let maxValue = Double(S.max)
        var out = filled(fill, count: width * height)
        @inline(__always) func sample(_ x: Int, _ y: Int, _ ch: Int) -> Double {
            Double(samples[(y * inWidth + x) * c + ch])
        }
        @inline(__always) func clampX(_ x: Int) -> Int { x < 0 ? 0 : (x < inWidth ? x : inWidth - 1) }
        @inline(__always) func clampY(_ y: Int) -> Int { y < 0 ? 0 : (y < inHeight ? y : inHeight - 1) }
        @inline(__always) func cubic(_ v1: Double, _ v2: Double, _ v3: Double, _ v4: Double, _ d: Double) -> Double {
            let p1 = v2
            let p2 = -v1 + v3
            let p3 = 2 * (v1 - v2) + v3 - v4
            let p4 = -v1 + v2 - v3 + v4
            return p1 + d * (p2 + d * (p3 + d * p4))
        }
        for y in 0..<height {
            for x in 0..<width {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                var xin = a[0] * px + a[1] * py + a[2]
                var yin = a[3] * px + a[4] * py + a[5]
                let o = (y * width + x) * c
                switch interpolation {
                case .nearest:
                    let sx = coordinate(xin), sy = coordinate(yin)
                    guard sx >= 0 && sx < inWidth && sy >= 0 && sy < inHeight else { continue }
                    let i = (sy * inWidth + sx) * c
                    for ch in 0..<c { out[o + ch] = samples[i + ch] }
                case .bilinear:
                    guard xin >= 0 && xin < Double(inWidth) && yin >= 0 && yin < Double(inHeight) else { continue }
                    xin -= 0.5
                    yin -= 0.5
                    let sx = floorInt(xin), sy = floorInt(yin)
                    let dx = xin - Double(sx), dy = yin - Double(sy)
                    let x0 = clampX(sx), x1 = clampX(sx + 1), row0 = clampY(sy)
                    let hasRow1 = sy + 1 >= 0 && sy + 1 < inHeight
                    for ch in 0..<c {
                        let a0 = sample(x0, row0, ch), b0 = sample(x1, row0, ch)
                        var v1 = a0 + (b0 - a0) * dx
                        var v2 = v1
                        if hasRow1 {
                            let a1 = sample(x0, sy + 1, ch), b1 = sample(x1, sy + 1, ch)
                            v2 = a1 + (b1 - a1) * dx
                        }
                        v1 = v1 + (v2 - v1) * dy
                        // Pillow truncates rather than rounds here.
                        out[o + ch] = S(min(max(v1, 0), maxValue))
                    }
                case .bicubic:
                    guard xin >= 0 && xin < Double(inWidth) && yin >= 0 && yin < Double(inHeight) else { continue }
                    xin -= 0.5
                    yin -= 0.5
                    var sx = floorInt(xin), sy = floorInt(yin)
                    let dx = xin - Double(sx), dy = yin - Double(sy)
                    sx -= 1
                    sy -= 1
                    let xs = (clampX(sx), clampX(sx + 1), clampX(sx + 2), clampX(sx + 3))
                    for ch in 0..<c {
                        func rowValue(_ row: Int) -> Double {
                            cubic(sample(xs.0, row, ch), sample(xs.1, row, ch), sample(xs.2, row, ch),
                                  sample(xs.3, row, ch), dx)
                        }
                        let v1 = rowValue(clampY(sy))
                        let v2 = sy + 1 >= 0 && sy + 1 < inHeight ? rowValue(sy + 1) : v1
                        let v3 = sy + 2 >= 0 && sy + 2 < inHeight ? rowValue(sy + 2) : v2
                        let v4 = sy + 3 >= 0 && sy + 3 < inHeight ? rowValue(sy + 3) : v3
                        let v = cubic(v1, v2, v3, v4, dy)
                        out[o + ch] = v <= 0 ? 0 : (v >= maxValue ? S.max : S(v))
                    }
                }
            }
        }
        return Image(width: width, height: height, format: image.format, samples: out)
    }
}
