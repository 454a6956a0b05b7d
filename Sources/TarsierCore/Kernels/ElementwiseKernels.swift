/// Plain-Swift element-wise, reduction, matrix and softmax loops shared by the backends.
enum Kernels {
    static func unary<T: KernelScalar>(_ op: UnaryOp, _ x: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>,
                                       _ n: Int) {
        switch op {
        case .negate: for i in 0..<n { y[i] = -x[i] }
        case .exp: for i in 0..<n { y[i] = T.exp(x[i]) }
        case .log: for i in 0..<n { y[i] = T.log(x[i]) }
        case .sqrt: for i in 0..<n { y[i] = x[i].squareRoot() }
        case .abs: for i in 0..<n { y[i] = Swift.abs(x[i]) }
        case .square: for i in 0..<n { y[i] = x[i] * x[i] }
        case .reciprocal: for i in 0..<n { y[i] = 1 / x[i] }
        case .relu: for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
        case .sigmoid:
            for i in 0..<n {
                // Both branches avoid exp overflow.
                let v = x[i]
                if v >= 0 { y[i] = 1 / (1 + T.exp(-v)) } else { let e = T.exp(v); y[i] = e / (1 + e) }
            }
        case .tanh: for i in 0..<n { y[i] = T.tanh(x[i]) }
        case .gelu:
            let invSqrt2 = T(0.70710678118654752440)
            for i in 0..<n { y[i] = x[i] * T(0.5) * (1 + T.erf(x[i] * invSqrt2)) }
        case .leakyRelu(let slope):
            let s = T(slope)
            for i in 0..<n { y[i] = x[i] > 0 ? x[i] : x[i] * s }
        case .scale(let s):
            let c = T(s)
            for i in 0..<n { y[i] = x[i] * c }
        case .addScalar(let s):
            let c = T(s)
            for i in 0..<n { y[i] = x[i] + c }
        case .powScalar(let p):
            let c = T(p)
            if p == 2 { for i in 0..<n { y[i] = x[i] * x[i] } } else { for i in 0..<n { y[i] = T.pow(x[i], c) } }
        case .clamp(let lo, let hi):
            let l = T(lo), h = T(hi)
            for i in 0..<n { y[i] = Swift.min(Swift.max(x[i], l), h) }
        }
    }

    @inline(__always)
    static func apply<T: KernelScalar>(_ op: BinaryOp, _ a: T, _ b: T) -> T {
        switch op {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return a / b
        case .maximum: return Swift.max(a, b)
        case .minimum: return Swift.min(a, b)
        case .power: return T.pow(a, b)
        case .addReLU:
            let sum = a + b
            return sum > 0 ? sum : 0
        case .equalMask: return a == b ? 1 : 0
        case .reluBackward: return a > 0 ? b : 0
        case .leakyReluBackward(let slope): return a > 0 ? b : b * T(slope)
        case .sigmoidBackward: return b * a * (1 - a)
        case .tanhBackward: return b * (1 - a * a)
        case .geluBackward:
            let cdf = T(0.5) * (1 + T.erf(a * T(0.70710678118654752440)))
            let pdf = T.exp(-a * a / 2) * T(0.39894228040143267794)
            return b * (cdf + a * pdf)
        }
    }

    /// Broadcast strides of an operand of `shape` within `outputShape` (0 along broadcast axes).
    static func broadcastStrides(_ shape: [Int], to outputShape: [Int]) -> [Int] {
        let own = Tensor.contiguousStrides(for: shape)
        let lead = outputShape.count - shape.count
        return (0..<outputShape.count).map { axis in
            axis < lead || shape[axis - lead] == 1 ? 0 : own[axis - lead]
        }
    }

    static func binary<T: KernelScalar>(_ op: BinaryOp, _ a: UnsafeMutablePointer<T>, _ aShape: [Int],
                                        _ b: UnsafeMutablePointer<T>, _ bShape: [Int],
                                        _ y: UnsafeMutablePointer<T>, _ outShape: [Int]) {
        let n = outShape.reduce(1, *)
        if n == 0 { return }
        let aCount = aShape.reduce(1, *), bCount = bShape.reduce(1, *)
        // Fast paths: equal shapes and a scalar operand.
        if aCount == n && bCount == n {
            switch op {
            case .add: for i in 0..<n { y[i] = a[i] + b[i] }
            case .multiply: for i in 0..<n { y[i] = a[i] * b[i] }
            case .subtract: for i in 0..<n { y[i] = a[i] - b[i] }
            case .reluBackward: for i in 0..<n { y[i] = a[i] > 0 ? b[i] : 0 }
            default: for i in 0..<n { y[i] = apply(op, a[i], b[i]) }
            }
            return
        }
        if bCount == 1 && aCount == n {
            let s = b[0]
            for i in 0..<n { y[i] = apply(op, a[i], s) }
            return
        }
        if aCount == 1 && bCount == n {
            let s = a[0]
            for i in 0..<n { y[i] = apply(op, s, b[i]) }
            return
        }
        let rank = outShape.count
        let aStrides = broadcastStrides(aShape, to: outShape)
        let bStrides = broadcastStrides(bShape, to: outShape)
        let inner = outShape[rank - 1]
        let aInner = aStrides[rank - 1], bInner = bStrides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var aBase = 0, bBase = 0, written = 0
        while written < n {
            for i in 0..<inner { y[written + i] = apply(op, a[aBase + i * aInner], b[bBase + i * bInner]) }
            written += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                aBase += aStrides[axis]
                bBase += bStrides[axis]
                if index[axis] < outShape[axis] { break }
                aBase -= aStrides[axis] * outShape[axis]
                bBase -= bStrides[axis] * outShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    static func reduce<T: KernelScalar>(_ op: ReduceOp, _ x: UnsafeMutablePointer<T>, _ shape: [Int],
                                        _ y: UnsafeMutablePointer<T>, _ outShape: [Int]) {
        let outCount = outShape.reduce(1, *)
        let initial: T = op == .sum ? 0 : (op == .max ? -T.infinity : T.infinity)
        y.update(repeating: initial, count: outCount)
        let n = shape.reduce(1, *)
        if n == 0 { return }
        if shape.isEmpty { y[0] = x[0]; return }
        let rank = shape.count
        let outStrides = broadcastStrides(outShape, to: shape)
        let inner = shape[rank - 1]
        let innerStride = outStrides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var base = 0, read = 0
        while read < n {
            switch op {
            case .sum:
                if innerStride == 0 {
                    var s: T = 0
                    for i in 0..<inner { s += x[read + i] }
                    y[base] += s
                } else {
                    for i in 0..<inner { y[base + i] += x[read + i] }
                }
            case .max: for i in 0..<inner { y[base + i * innerStride] = Swift.max(y[base + i * innerStride], x[read + i]) }
            case .min: for i in 0..<inner { y[base + i * innerStride] = Swift.min(y[base + i * innerStride], x[read + i]) }
            }
            read += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                base += outStrides[axis]
                if index[axis] < shape[axis] { break }
                base -= outStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    static func argmax<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, _ shape: [Int], axis: Int) -> [Int] {
        let size = shape[axis]
        let innerCount = shape[(axis + 1)...].reduce(1, *)
        let outerCount = shape[..<axis].reduce(1, *)
        var result = [Int](repeating: 0, count: outerCount * innerCount)
        for o in 0..<outerCount {
            for i in 0..<innerCount {
                var best = 0
                var bestValue = -T.infinity
                for k in 0..<size {
                    let v = x[(o * size + k) * innerCount + i]
                    // NaN compares false, so a NaN row keeps index 0 unless it is first; fine for metrics.
                    if v > bestValue || (k == 0) { bestValue = v; best = k }
                }
                result[o * innerCount + i] = best
            }
        }
        return result
    }

    static func matmul<T: KernelScalar>(_ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>,
                                        _ c: UnsafeMutablePointer<T>, m: Int, n: Int, k: Int,
                                        transposeA: Bool, transposeB: Bool) {
        c.update(repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let av = transposeA ? a[p * m + i] : a[i * k + p]
                if transposeB {
                    for j in 0..<n { c[i * n + j] += av * b[j * k + p] }
                } else {
                    for j in 0..<n { c[i * n + j] += av * b[p * n + j] }
                }
            }
        }
    }

    static func softmax<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>,
                                         rows: Int, cols: Int, log: Bool) {
        for r in 0..<rows {
            let row = x + r * cols, out = y + r * cols
            var m = -T.infinity
            for j in 0..<cols { m = Swift.max(m, row[j]) }
            var s: T = 0
            for j in 0..<cols { s += T.exp(row[j] - m) }
            if log {
                let lse = m + T.log(s)
                for j in 0..<cols { out[j] = row[j] - lse }
            } else {
                for j in 0..<cols { out[j] = T.exp(row[j] - m) / s }
            }
        }
    }

    static func softmaxBackward<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>,
                                                 _ gx: UnsafeMutablePointer<T>, rows: Int, cols: Int, log: Bool) {
        for r in 0..<rows {
            let yr = y + r * cols, gr = g + r * cols, out = gx + r * cols
            if log {
                // d/dx log_softmax: g - softmax * sum(g)
                var s: T = 0
                for j in 0..<cols { s += gr[j] }
                for j in 0..<cols { out[j] = gr[j] - T.exp(yr[j]) * s }
            } else {
                var dot: T = 0
                for j in 0..<cols { dot += gr[j] * yr[j] }
                for j in 0..<cols { out[j] = yr[j] * (gr[j] - dot) }
            }
        }
    }
}
