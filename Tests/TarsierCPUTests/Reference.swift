import XCTest

/// Deterministic test data (SplitMix64), uniform in [-1, 1).
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }

    mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in uniform() } }
}

/// Asserts |actual - expected| <= 1e-4 * max(|expected|, 1) elementwise.
func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-4,
                 _ message: @autoclosure () -> String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "count " + message(), file: file, line: line)
    var worst = 0.0, worstIndex = -1
    for i in 0..<min(actual.count, expected.count) {
        let error = abs(Double(actual[i]) - expected[i]) / max(abs(expected[i]), 1)
        if !(error <= worst) { worst = error; worstIndex = i }
    }
    if worstIndex >= 0 && !(worst <= tolerance) {
        XCTFail("\(message()): element \(worstIndex) is \(actual[worstIndex]), expected "
                    + "\(expected[worstIndex]) (relative error \(worst))", file: file, line: line)
    }
}

/// Naive NCHW / OIHW convolution in Double, the definition the kernels are checked against.
enum ReferenceConv {
    struct Shape {
        var n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups: Int
        var oh: Int { (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1 }
        var ow: Int { (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1 }
        var cg: Int { c / groups }
        var og: Int { o / groups }
    }

    /// Calls body(n, o, y, x, ci, ky, kx, iy, ix) for every in-bounds tap.
    static func forEachTap(_ s: Shape, _ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
        for n in 0..<s.n {
            for o in 0..<s.o {
                let g = o / s.og
                for y in 0..<s.oh {
                    for x in 0..<s.ow {
                        for cl in 0..<s.cg {
                            for ky in 0..<s.kh {
                                let iy = y * s.sh - s.ph + ky * s.dh
                                if iy < 0 || iy >= s.h { continue }
                                for kx in 0..<s.kw {
                                    let ix = x * s.sw - s.pw + kx * s.dw
                                    if ix < 0 || ix >= s.w { continue }
                                    body(n, o, y, x, g * s.cg + cl, ky, kx, iy, ix)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func weightIndex(_ s: Shape, _ o: Int, _ ci: Int, _ ky: Int, _ kx: Int) -> Int {
        ((o * s.cg + ci % s.cg) * s.kh + ky) * s.kw + kx
    }

    static func forward(_ s: Shape, _ x: [Float], _ w: [Float], _ b: [Float]?) -> [Double] {
        var out = [Double](repeating: 0, count: s.n * s.o * s.oh * s.ow)
        for n in 0..<s.n {
            for o in 0..<s.o {
                for i in 0..<(s.oh * s.ow) { out[(n * s.o + o) * s.oh * s.ow + i] = Double(b?[o] ?? 0) }
            }
        }
        forEachTap(s) { n, o, y, xx, ci, ky, kx, iy, ix in
            out[((n * s.o + o) * s.oh + y) * s.ow + xx] +=
                Double(x[((n * s.c + ci) * s.h + iy) * s.w + ix])
                * Double(w[weightIndex(s, o, ci, ky, kx)])
        }
        return out
    }

    static func backwardData(_ s: Shape, _ dy: [Float], _ w: [Float]) -> [Double] {
        var dx = [Double](repeating: 0, count: s.n * s.c * s.h * s.w)
        forEachTap(s) { n, o, y, xx, ci, ky, kx, iy, ix in
            dx[((n * s.c + ci) * s.h + iy) * s.w + ix] +=
                Double(dy[((n * s.o + o) * s.oh + y) * s.ow + xx])
                * Double(w[weightIndex(s, o, ci, ky, kx)])
        }
        return dx
    }

    static func backwardWeights(_ s: Shape, _ x: [Float], _ dy: [Float]) -> (w: [Double], b: [Double]) {
        var dw = [Double](repeating: 0, count: s.o * s.cg * s.kh * s.kw)
        var db = [Double](repeating: 0, count: s.o)
        forEachTap(s) { n, o, y, xx, ci, ky, kx, iy, ix in
            dw[weightIndex(s, o, ci, ky, kx)] +=
                Double(dy[((n * s.o + o) * s.oh + y) * s.ow + xx])
                * Double(x[((n * s.c + ci) * s.h + iy) * s.w + ix])
        }
        for n in 0..<s.n {
            for o in 0..<s.o {
                for i in 0..<(s.oh * s.ow) { db[o] += Double(dy[(n * s.o + o) * s.oh * s.ow + i]) }
            }
        }
        return (dw, db)
    }
}

/// Naive pooling with PyTorch's semantics (output size, ceil mode, count_include_pad).
enum ReferencePool {
    struct Shape {
        var n, c, h, w, kh, kw, sh, sw, ph, pw: Int
        var ceil: Bool
        var includePad: Bool

        static func outSize(_ i: Int, _ k: Int, _ s: Int, _ p: Int, _ ceil: Bool) -> Int {
            // Written independently of PoolGeometry: floor or ceil of (i + 2p - k) / s, plus 1.
            let span = Double(i + 2 * p - k) / Double(s)
            var o = Int(ceil ? span.rounded(.up) : span.rounded(.down)) + 1
            if ceil && (o - 1) * s >= i + p { o -= 1 }
            return o
        }

        var oh: Int { Self.outSize(h, kh, sh, ph, ceil) }
        var ow: Int { Self.outSize(w, kw, sw, pw, ceil) }
    }

    /// Window rows [y0, y1) clipped to the input, and PyTorch's average divisor.
    static func window(_ s: Shape, _ y: Int, _ x: Int) -> (y0: Int, y1: Int, x0: Int, x1: Int, divisor: Int) {
        var y0 = y * s.sh - s.ph, x0 = x * s.sw - s.pw
        var y1 = min(y0 + s.kh, s.h + s.ph), x1 = min(x0 + s.kw, s.w + s.pw)
        let padded = (y1 - y0) * (x1 - x0)
        y0 = max(y0, 0); x0 = max(x0, 0); y1 = min(y1, s.h); x1 = min(x1, s.w)
        return (y0, y1, x0, x1, s.includePad ? padded : (y1 - y0) * (x1 - x0))
    }

    static func maxForward(_ s: Shape, _ x: [Float]) -> (y: [Double], argmax: [Int]) {
        var out = [Double](), argmax = [Int]()
        for plane in 0..<(s.n * s.c) {
            for y in 0..<s.oh {
                for xx in 0..<s.ow {
                    let win = window(s, y, xx)
                    var best = -Double.infinity, bestIndex = -1
                    for iy in win.y0..<win.y1 {
                        for ix in win.x0..<win.x1 {
                            let i = (plane * s.h + iy) * s.w + ix
                            if Double(x[i]) > best { best = Double(x[i]); bestIndex = i }
                        }
                    }
                    out.append(best)
                    argmax.append(bestIndex)
                }
            }
        }
        return (out, argmax)
    }

    static func maxBackward(_ s: Shape, _ dy: [Float], _ argmax: [Int]) -> [Double] {
        var dx = [Double](repeating: 0, count: s.n * s.c * s.h * s.w)
        for (o, i) in argmax.enumerated() { dx[i] += Double(dy[o]) }
        return dx
    }

    static func avgForward(_ s: Shape, _ x: [Float]) -> [Double] {
        var out = [Double]()
        for plane in 0..<(s.n * s.c) {
            for y in 0..<s.oh {
                for xx in 0..<s.ow {
                    let win = window(s, y, xx)
                    var sum = 0.0
                    for iy in win.y0..<win.y1 {
                        for ix in win.x0..<win.x1 { sum += Double(x[(plane * s.h + iy) * s.w + ix]) }
                    }
                    out.append(sum / Double(win.divisor))
                }
            }
        }
        return out
    }

    static func avgBackward(_ s: Shape, _ dy: [Float]) -> [Double] {
        var dx = [Double](repeating: 0, count: s.n * s.c * s.h * s.w)
        for plane in 0..<(s.n * s.c) {
            for y in 0..<s.oh {
                for xx in 0..<s.ow {
                    let win = window(s, y, xx)
                    let g = Double(dy[(plane * s.oh + y) * s.ow + xx]) / Double(win.divisor)
                    for iy in win.y0..<win.y1 {
                        for ix in win.x0..<win.x1 { dx[(plane * s.h + iy) * s.w + ix] += g }
                    }
                }
            }
        }
        return dx
    }
}
