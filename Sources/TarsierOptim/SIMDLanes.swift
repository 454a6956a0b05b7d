#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif
import TarsierCore

/// A scalar whose optimizer loops run on SIMD lanes.
///
/// Why explicit lanes: on Linux, Swift's `squareRoot()` lowers to a libm `sqrtf` call (errno
/// semantics), which stops LLVM from vectorising any loop containing it, and `SIMD.squareRoot()`
/// becomes one such call per lane. Adam's loop then runs ~5x slower. SSE2's `sqrtps`/`sqrtpd`
/// are in every x86-64 CPU and are correctly rounded, so results equal the scalar code's.
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
