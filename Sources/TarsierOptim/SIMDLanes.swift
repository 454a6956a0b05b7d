#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif
import TarsierCore

/// A scalar whose square roots run on SIMD lanes.
///
/// Why: on Linux, Swift's `squareRoot()` lowers to a libm `sqrtf` call (errno semantics), which
/// stops LLVM from vectorising any loop containing it, and `SIMD.squareRoot()` becomes one such
/// call per lane: Adam's fused loop ran ~4x slower. SSE2's `sqrtps`/`sqrtpd` are in every x86-64
/// CPU and are correctly rounded, so results equal the scalar code's. Only the square roots use
/// SIMD types: unspecialised (debug) SIMD arithmetic is ~30x slower than scalar loops.
protocol LaneScalar: KernelScalar, SIMDScalar, Codable {
    /// The vector type of one SSE register of this scalar.
    associatedtype Lanes: SIMD where Lanes.Scalar == Self
    /// The correctly rounded square root of each lane.
    static func squareRoot(_ x: Lanes) -> Lanes
}

extension Float: LaneScalar {
    typealias Lanes = SIMD4<Float>
    @inline(__always) static func squareRoot(_ x: SIMD4<Float>) -> SIMD4<Float> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return _mm_sqrt_ps(x)
        #else
        return x.squareRoot()
        #endif
    }
}

extension Double: LaneScalar {
    typealias Lanes = SIMD2<Double>
    @inline(__always) static func squareRoot(_ x: SIMD2<Double>) -> SIMD2<Double> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return _mm_sqrt_pd(x)
        #else
        return x.squareRoot()
        #endif
    }
}

/// Writes the square root of each of `count` elements of `x` to `y`.
@inline(__always)
func squareRoots<T: LaneScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count n: Int) {
    let width = T.Lanes.scalarCount
    var i = 0
    while i + width <= n {
        storeLanes(T.squareRoot(loadLanes(x, i, width)), y, i, width)
        i += width
    }
    while i < n {
        y[i] = x[i].squareRoot()
        i += 1
    }
}

/// Loads `count` (at most one vector's worth of) elements from `p + i`, zero-filling the rest.
@inline(__always)
func loadLanes<T: LaneScalar>(_ p: UnsafePointer<T>, _ i: Int, _ count: Int) -> T.Lanes {
    if count == T.Lanes.scalarCount { return UnsafeRawPointer(p + i).loadUnaligned(as: T.Lanes.self) }
    var x = T.Lanes()
    for k in 0..<count { x[k] = p[i + k] }
    return x
}

/// Stores the first `count` lanes of `x` at `p + i`.
@inline(__always)
func storeLanes<T: LaneScalar>(_ x: T.Lanes, _ p: UnsafeMutablePointer<T>, _ i: Int, _ count: Int) {
    if count == T.Lanes.scalarCount {
        UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: T.Lanes.self)
        return
    }
    for k in 0..<count { p[i + k] = x[k] }
}
