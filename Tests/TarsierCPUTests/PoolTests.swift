import XCTest
import TarsierCPU

final class PoolTests: XCTestCase {
    private func geometry(_ s: ReferencePool.Shape) -> PoolGeometry {
        PoolGeometry(batch: s.n, channels: s.c, inHeight: s.h, inWidth: s.w,
                     kernelHeight: s.kh, kernelWidth: s.kw, strideHeight: s.sh, strideWidth: s.sw,
                     padHeight: s.ph, padWidth: s.pw, ceilMode: s.ceil, countIncludePad: s.includePad)
    }

    private func shape(n: Int, c: Int, h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int) = (0, 0),
                       ceil: Bool, includePad: Bool = true) -> ReferencePool.Shape {
        ReferencePool.Shape(n: n, c: c, h: h, w: w, kh: k.0, kw: k.1, sh: s.0, sw: s.1,
                            ph: p.0, pw: p.1, ceil: ceil, includePad: includePad)
    }

    private func checkMax(_ s: ReferencePool.Shape, seed: UInt64,
                          file: StaticString = #filePath, line: UInt = #line) {
        let g = geometry(s)
        XCTAssertEqual(g.outHeight, s.oh, "\(g)", file: file, line: line)
        XCTAssertEqual(g.outWidth, s.ow, "\(g)", file: file, line: line)
        var random = TestRandom(seed: seed)
        for round in 0..<2 {
            let x = random.floats(s.n * s.c * s.h * s.w)
            let dy = random.floats(s.n * s.c * s.oh * s.ow)
            let expected = ReferencePool.maxForward(s, x)
            var y = [Float](repeating: .nan, count: dy.count)
            var workspace = [UInt8](repeating: 0, count: DNNL.maxPoolWorkspaceByteCount(g))
            workspace.withUnsafeMutableBytes { ws in
                DNNL.maxPool2dForward(g, source: x, destination: &y, workspace: ws.baseAddress)
            }
            assertClose(y, expected.y, "max forward \(g) round \(round)", file: file, line: line)

            var inference = [Float](repeating: .nan, count: dy.count)
            DNNL.maxPool2dForward(g, source: x, destination: &inference, workspace: nil)
            assertClose(inference, expected.y, "max inference \(g)", file: file, line: line)

            var dx = [Float](repeating: .nan, count: x.count)
            workspace.withUnsafeBytes { ws in
                guard let base = ws.baseAddress else { return XCTFail("empty workspace") }
                DNNL.maxPool2dBackward(g, destinationGradient: dy, workspace: base, sourceGradient: &dx)
            }
            assertClose(dx, ReferencePool.maxBackward(s, dy, expected.argmax),
                        "max backward \(g) round \(round)", file: file, line: line)
        }
    }

    private func checkAverage(_ s: ReferencePool.Shape, seed: UInt64,
                              file: StaticString = #filePath, line: UInt = #line) {
        let g = geometry(s)
        XCTAssertEqual(g.outHeight, s.oh, "\(g)", file: file, line: line)
        XCTAssertEqual(g.outWidth, s.ow, "\(g)", file: file, line: line)
        var random = TestRandom(seed: seed)
        for round in 0..<2 {
            let x = random.floats(s.n * s.c * s.h * s.w)
            let dy = random.floats(s.n * s.c * s.oh * s.ow)
            var y = [Float](repeating: .nan, count: dy.count)
            DNNL.avgPool2dForward(g, source: x, destination: &y)
            assertClose(y, ReferencePool.avgForward(s, x), "avg forward \(g) round \(round)",
                        file: file, line: line)
            var dx = [Float](repeating: .nan, count: x.count)
            DNNL.avgPool2dBackward(g, destinationGradient: dy, sourceGradient: &dx)
            assertClose(dx, ReferencePool.avgBackward(s, dy), "avg backward \(g) round \(round)",
                        file: file, line: line)
        }
    }

    func testMaxPoolFloor() {
        checkMax(shape(n: 3, c: 5, h: 9, w: 10, k: (3, 3), s: (2, 2), p: (1, 1), ceil: false), seed: 1)
        checkMax(shape(n: 1, c: 17, h: 8, w: 8, k: (2, 2), s: (2, 2), ceil: false), seed: 2)
    }

    func testMaxPoolCeil() {
        checkMax(shape(n: 3, c: 3, h: 8, w: 8, k: (3, 3), s: (2, 2), ceil: true), seed: 3)
        checkMax(shape(n: 1, c: 5, h: 7, w: 9, k: (2, 3), s: (2, 2), p: (1, 1), ceil: true), seed: 4)
        checkMax(shape(n: 3, c: 17, h: 32, w: 32, k: (3, 3), s: (2, 2), p: (1, 1), ceil: true), seed: 5)
    }

    func testAveragePoolIncludeAndExcludePadding() {
        for includePad in [true, false] {
            checkAverage(shape(n: 3, c: 5, h: 9, w: 10, k: (3, 3), s: (2, 2), p: (1, 1), ceil: false,
                               includePad: includePad), seed: 10)
            checkAverage(shape(n: 1, c: 17, h: 7, w: 7, k: (3, 3), s: (1, 1), p: (1, 1), ceil: false,
                               includePad: includePad), seed: 11)
            checkAverage(shape(n: 3, c: 3, h: 7, w: 6, k: (2, 2), s: (2, 2), ceil: false,
                               includePad: includePad), seed: 12)
        }
    }

    func testAveragePoolCeilMode() {
        for includePad in [true, false] {
            // 8 + 2 - 3 rounds up to an extra window that overhangs the right padding.
            checkAverage(shape(n: 3, c: 5, h: 8, w: 9, k: (3, 3), s: (2, 2), p: (1, 1), ceil: true,
                               includePad: includePad), seed: 13)
            checkAverage(shape(n: 1, c: 3, h: 7, w: 10, k: (3, 2), s: (2, 3), ceil: true,
                               includePad: includePad), seed: 14)
            checkAverage(shape(n: 3, c: 17, h: 6, w: 5, k: (4, 4), s: (3, 3), p: (2, 1), ceil: true,
                               includePad: includePad), seed: 15)
        }
    }

    /// NaN wins a window (as in PyTorch) in both the 16-channel block and the tail, and the
    /// gradient goes to the first NaN; ties go to the first maximum.
    func testChannelsLastMaxPoolNaNAndTies() {
        var g = PoolGeometry(batch: 1, channels: 18, inHeight: 2, inWidth: 2, kernelHeight: 2, kernelWidth: 2,
                             strideHeight: 2, strideWidth: 2)
        g.channelsLast = true
        XCTAssertTrue(ChannelsLastMaxPool.applies(g))
        // Pixels (0,0), (0,1), (1,0), (1,1), each with 18 channels.
        var x = [Float](repeating: 0, count: 4 * 18)
        for channel in [0, 17] {
            x[0 * 18 + channel] = 5
            x[1 * 18 + channel] = .nan
            x[2 * 18 + channel] = .nan
            x[3 * 18 + channel] = 7
        }
        for channel in [1, 16] {
            x[1 * 18 + channel] = 3  // a tie between pixels 1 and 3
            x[3 * 18 + channel] = 3
        }
        var y = [Float](repeating: 0, count: 18)
        var argmax = [UInt8](repeating: 255, count: 18)
        ChannelsLastMaxPool.forward(g, source: x, destination: &y, argmax: &argmax, threads: 2)
        let dy = (0..<18).map { Float($0 + 1) }
        var dx = [Float](repeating: .infinity, count: x.count)
        ChannelsLastMaxPool.backward(g, argmax: argmax, destinationGradient: dy, sourceGradient: &dx, threads: 2)
        for channel in [0, 17] {
            XCTAssertTrue(y[channel].isNaN, "channel \(channel)")
            XCTAssertEqual((0..<4).map { dx[$0 * 18 + channel] }, [0, dy[channel], 0, 0], "channel \(channel)")
        }
        for channel in [1, 16] {
            XCTAssertEqual(y[channel], 3)
            XCTAssertEqual((0..<4).map { dx[$0 * 18 + channel] }, [0, dy[channel], 0, 0], "channel \(channel)")
        }
        // All zeros: the first pixel takes the gradient.
        XCTAssertEqual((0..<4).map { dx[$0 * 18 + 5] }, [dy[5], 0, 0, 0])
    }

    /// Fewer than 16 channels with 2x2 windows run whole image rows at a time: a NaN in any
    /// corner of a window wins, and ties go to the first corner in row-major order.
    func testSmallChannelMaxPoolNaNInEveryCornerAndTies() {
        var g = PoolGeometry(batch: 2, channels: 6, inHeight: 3, inWidth: 5, kernelHeight: 2, kernelWidth: 2,
                             strideHeight: 2, strideWidth: 2)
        g.channelsLast = true
        XCTAssertTrue(ChannelsLastMaxPool.applies(g))
        let c = 6, corners = [(0, 0), (0, 1), (1, 0), (1, 1)]
        func index(_ n: Int, _ iy: Int, _ ix: Int, _ channel: Int) -> Int { ((n * 3 + iy) * 5 + ix) * c + channel }
        var x = (0..<(2 * 3 * 5 * c)).map { Float($0 % 7) - 3 }
        // Image 1, window 1 (columns 2-3): channel k has a NaN in corner k; channel 4 ties at 9 in
        // corners 1 and 3; channel 5 is all equal.
        for (k, corner) in corners.enumerated() { x[index(1, corner.0, 2 + corner.1, k)] = .nan }
        x[index(1, 0, 3, 4)] = 9
        x[index(1, 1, 3, 4)] = 9
        for corner in corners { x[index(1, corner.0, 2 + corner.1, 5)] = 2 }
        var y = [Float](repeating: 0, count: 2 * 1 * 2 * c)
        var argmax = [UInt8](repeating: 255, count: y.count)
        ChannelsLastMaxPool.forward(g, source: x, destination: &y, argmax: &argmax, threads: 2)
        var inferred = [Float](repeating: 0, count: y.count)
        ChannelsLastMaxPool.forward(g, source: x, destination: &inferred, argmax: nil, threads: 2)
        XCTAssertEqual(inferred.map(\.bitPattern), y.map(\.bitPattern), "inference writes the same maxima")
        let dy = (0..<y.count).map { Float($0 + 1) }
        var dx = [Float](repeating: .infinity, count: x.count)
        ChannelsLastMaxPool.backward(g, argmax: argmax, destinationGradient: dy, sourceGradient: &dx, threads: 2)
        let out = (1 * 2 + 1) * c  // image 1, window 1
        func routed(_ channel: Int) -> [Float] { corners.map { dx[index(1, $0.0, 2 + $0.1, channel)] } }
        for k in 0..<4 {
            XCTAssertTrue(y[out + k].isNaN, "channel \(k)")
            XCTAssertEqual(routed(k), (0..<4).map { $0 == k ? dy[out + k] : 0 }, "channel \(k)")
        }
        XCTAssertEqual(y[out + 4], 9)
        XCTAssertEqual(routed(4), [0, dy[out + 4], 0, 0])
        XCTAssertEqual(routed(5), [dy[out + 5], 0, 0, 0])
        // The last row and column lie under no window.
        for n in 0..<2 {
            for ix in 0..<5 { XCTAssertEqual(dx[index(n, 2, ix, 0)], 0) }
            for iy in 0..<3 { XCTAssertEqual(dx[index(n, iy, 4, 3)], 0) }
        }
    }

    func testOutputSizes() {
        // PyTorch: MaxPool2d(3, 2, ceil_mode=True) on 112 -> 56; on 8 -> 4 (floor 3).
        XCTAssertEqual(PoolGeometry(batch: 1, channels: 1, inHeight: 112, inWidth: 8, kernelHeight: 3,
                                    kernelWidth: 3, strideHeight: 2, strideWidth: 2, padHeight: 0,
                                    padWidth: 0, ceilMode: true, countIncludePad: true).outHeight, 56)
        let g = PoolGeometry(batch: 1, channels: 1, inHeight: 112, inWidth: 8, kernelHeight: 3,
                             kernelWidth: 3, strideHeight: 2, strideWidth: 2, padHeight: 0,
                             padWidth: 0, ceilMode: true, countIncludePad: true)
        XCTAssertEqual(g.outWidth, 4)
        var floor = g
        floor.ceilMode = false
        XCTAssertEqual(floor.outWidth, 3)
        // The last window may not start in the padding: 5 + 2 - 2 = 5, ceil(5/2) = 3 -> 4 would
        // start at 6 >= 5 + 1, so 3.
        let last = PoolGeometry(batch: 1, channels: 1, inHeight: 5, inWidth: 5, kernelHeight: 2,
                                kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 1,
                                padWidth: 1, ceilMode: true, countIncludePad: true)
        XCTAssertEqual(last.outHeight, 3)
    }
}
