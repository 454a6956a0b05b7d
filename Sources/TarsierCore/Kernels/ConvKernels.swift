import TarsierCPU

/// Direct-loop 2-D convolution (NCHW input, OIHW weight): the reference definition.
enum ConvKernels {
    /// Calls `body(n, g, oc, oh, ow, ic, ih, iw, kh, kw)` for every in-bounds tap.
    @inline(__always)
    static func forEachTap(_ g: ConvGeometry,
                           _ body: (_ yIndex: Int, _ xIndex: Int, _ wIndex: Int) -> Void) {
        let icPerGroup = g.inChannels / g.groups, ocPerGroup = g.outChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<g.batch {
            for oc in 0..<g.outChannels {
                let group = oc / ocPerGroup
                for y in 0..<oh {
                    for x in 0..<ow {
                        let yIndex = ((n * g.outChannels + oc) * oh + y) * ow + x
                        for icg in 0..<icPerGroup {
                            let ic = group * icPerGroup + icg
                            for kh in 0..<g.kernelHeight {
                                let ih = y * g.strideHeight - g.padHeight + kh * g.dilationHeight
                                if ih < 0 || ih >= g.inHeight { continue }
                                for kw in 0..<g.kernelWidth {
                                    let iw = x * g.strideWidth - g.padWidth + kw * g.dilationWidth
                                    if iw < 0 || iw >= g.inWidth { continue }
                                    let xIndex = ((n * g.inChannels + ic) * g.inHeight + ih) * g.inWidth + iw
                                    let wIndex = ((oc * icPerGroup + icg) * g.kernelHeight + kh) * g.kernelWidth + kw
                                    body(yIndex, xIndex, wIndex)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func forward<T: KernelScalar>(_ g: ConvGeometry, _ x: UnsafeMutablePointer<T>, _ w: UnsafeMutablePointer<T>,
                                         _ bias: UnsafeMutablePointer<T>?, _ y: UnsafeMutablePointer<T>) {
        let spatial = g.outHeight * g.outWidth
        for n in 0..<g.batch {
            for oc in 0..<g.outChannels {
                let b = bias?[oc] ?? 0
                (y + (n * g.outChannels + oc) * spatial).update(repeating: b, count: spatial)
            }
        }
        forEachTap(g) { yi, xi, wi in y[yi] += x[xi] * w[wi] }
    }

    static func backwardData<T: KernelScalar>(_ g: ConvGeometry, _ gy: UnsafeMutablePointer<T>,
                                              _ w: UnsafeMutablePointer<T>, _ gx: UnsafeMutablePointer<T>) {
        forEachTap(g) { yi, xi, wi in gx[xi] += gy[yi] * w[wi] }
    }

    static func backwardWeights<T: KernelScalar>(_ g: ConvGeometry, _ x: UnsafeMutablePointer<T>,
                                                 _ gy: UnsafeMutablePointer<T>, _ gw: UnsafeMutablePointer<T>,
                                                 _ gb: UnsafeMutablePointer<T>?) {
        forEachTap(g) { yi, xi, wi in gw[wi] += gy[yi] * x[xi] }
        if let gb {
            let spatial = g.outHeight * g.outWidth
            for n in 0..<g.batch {
                for oc in 0..<g.outChannels {
                    let row = gy + (n * g.outChannels + oc) * spatial
                    var s: T = 0
                    for i in 0..<spatial { s += row[i] }
                    gb[oc] += s
                }
            }
        }
    }
}

/// Direct-loop pooling with PyTorch's window and divisor rules.
enum PoolKernels {
    /// Max pooling; returns the flat input index of each output's maximum (first on ties).
    static func maxForward<T: KernelScalar>(_ g: PoolGeometry, _ x: UnsafeMutablePointer<T>,
                                            _ y: UnsafeMutablePointer<T>) -> [Int] {
        let oh = g.outHeight, ow = g.outWidth
        var indices = [Int](repeating: 0, count: g.batch * g.channels * oh * ow)
        for plane in 0..<(g.batch * g.channels) {
            let planeBase = plane * g.inHeight * g.inWidth
            for py in 0..<oh {
                let h0 = py * g.strideHeight - g.padHeight
                let h1 = Swift.min(h0 + g.kernelHeight, g.inHeight)
                for px in 0..<ow {
                    let w0 = px * g.strideWidth - g.padWidth
                    let w1 = Swift.min(w0 + g.kernelWidth, g.inWidth)
                    var best = -T.infinity
                    var bestIndex = planeBase + Swift.max(h0, 0) * g.inWidth + Swift.max(w0, 0)
                    for h in Swift.max(h0, 0)..<Swift.max(h1, Swift.max(h0, 0)) {
                        for w in Swift.max(w0, 0)..<Swift.max(w1, Swift.max(w0, 0)) {
                            let i = planeBase + h * g.inWidth + w
                            if x[i] > best || x[i].isNaN { best = x[i]; bestIndex = i }
                        }
                    }
                    let o = (plane * oh + py) * ow + px
                    y[o] = best
                    indices[o] = bestIndex
                }
            }
        }
        return indices
    }

    /// Average pooling forward (`input` -> `output`), or backward when `backward` is true
    /// (`input` receives the gradient spread from `output`).
    static func average<T: KernelScalar>(_ g: PoolGeometry, _ input: UnsafeMutablePointer<T>,
                                         _ output: UnsafeMutablePointer<T>, backward: Bool) {
        let oh = g.outHeight, ow = g.outWidth
        for plane in 0..<(g.batch * g.channels) {
            let planeBase = plane * g.inHeight * g.inWidth
            for py in 0..<oh {
                var h0 = py * g.strideHeight - g.padHeight
                var h1 = Swift.min(h0 + g.kernelHeight, g.inHeight + g.padHeight)
                let paddedRows = h1 - h0
                h0 = Swift.max(h0, 0); h1 = Swift.min(h1, g.inHeight)
                for px in 0..<ow {
                    var w0 = px * g.strideWidth - g.padWidth
                    var w1 = Swift.min(w0 + g.kernelWidth, g.inWidth + g.padWidth)
                    let paddedCols = w1 - w0
                    w0 = Swift.max(w0, 0); w1 = Swift.min(w1, g.inWidth)
                    let divisor = g.countIncludePad ? paddedRows * paddedCols : (h1 - h0) * (w1 - w0)
                    let o = (plane * oh + py) * ow + px
                    if divisor <= 0 || h1 <= h0 || w1 <= w0 {
                        if !backward { output[o] = 0 }
                        continue
                    }
                    let inv = 1 / T(divisor)
                    if backward {
                        let share = output[o] * inv
                        for h in h0..<h1 { for w in w0..<w1 { input[planeBase + h * g.inWidth + w] += share } }
                    } else {
                        var s: T = 0
                        for h in h0..<h1 { for w in w0..<w1 { s += input[planeBase + h * g.inWidth + w] } }
                        output[o] = s * inv
                    }
                }
            }
        }
    }
}

/// Per-channel batch-norm loops over [N, C, spatial].
enum NormKernels {
    static func statistics<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, batch: Int, channels: Int, spatial: Int,
                                            mean: UnsafeMutablePointer<T>, variance: UnsafeMutablePointer<T>) {
        let m = T(batch * spatial)
        for c in 0..<channels {
            var s: T = 0
            for n in 0..<batch { let p = x + (n * channels + c) * spatial; for i in 0..<spatial { s += p[i] } }
            let mu = s / m
            var v: T = 0
            for n in 0..<batch {
                let p = x + (n * channels + c) * spatial
                for i in 0..<spatial { let d = p[i] - mu; v += d * d }
            }
            mean[c] = mu
            variance[c] = v / m
        }
    }

    static func normalize<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, batch: Int, channels: Int, spatial: Int,
                                           scale: UnsafeMutablePointer<T>, shift: UnsafeMutablePointer<T>,
                                           mean: UnsafeMutablePointer<T>, variance: UnsafeMutablePointer<T>,
                                           epsilon: T, _ y: UnsafeMutablePointer<T>) {
        for c in 0..<channels {
            let a = scale[c] / (variance[c] + epsilon).squareRoot()
            let b = shift[c] - mean[c] * a
            for n in 0..<batch {
                let o = (n * channels + c) * spatial
                for i in 0..<spatial { y[o + i] = x[o + i] * a + b }
            }
        }
    }

    static func backward<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, _ gy: UnsafeMutablePointer<T>,
                                          batch: Int, channels: Int, spatial: Int,
                                          scale: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
                                          variance: UnsafeMutablePointer<T>, epsilon: T,
                                          _ gx: UnsafeMutablePointer<T>, _ gScale: UnsafeMutablePointer<T>,
                                          _ gShift: UnsafeMutablePointer<T>) {
        let m = T(batch * spatial)
        for c in 0..<channels {
            let invStd = 1 / (variance[c] + epsilon).squareRoot()
            var sumG: T = 0, sumGXhat: T = 0
            for n in 0..<batch {
                let o = (n * channels + c) * spatial
                for i in 0..<spatial {
                    sumG += gy[o + i]
                    sumGXhat += gy[o + i] * (x[o + i] - mean[c]) * invStd
                }
            }
            gShift[c] = sumG
            gScale[c] = sumGXhat
            let k = scale[c] * invStd / m
            for n in 0..<batch {
                let o = (n * channels + c) * spatial
                for i in 0..<spatial {
                    let xhat = (x[o + i] - mean[c]) * invStd
                    gx[o + i] = k * (m * gy[o + i] - sumG - xhat * sumGXhat)
                }
            }
        }
    }
}
