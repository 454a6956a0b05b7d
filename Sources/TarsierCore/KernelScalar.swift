#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// The floating-point element types kernels are written for (Float and Double).
public protocol KernelScalar: BinaryFloatingPoint, Sendable {
    /// The storage type tag of this scalar.
    static var dtype: DType { get }
    /// e^x.
    static func exp(_ x: Self) -> Self
    /// Natural logarithm.
    static func log(_ x: Self) -> Self
    /// Hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// Error function.
    static func erf(_ x: Self) -> Self
    /// x raised to y.
    static func pow(_ x: Self, _ y: Self) -> Self
    /// log(1 + e^x) computed without overflow.
    static func log1pexp(_ x: Self) -> Self
}

extension Float: KernelScalar {
    public static var dtype: DType { .float32 }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { erff(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inline(__always) public static func log1pexp(_ x: Float) -> Float {
        x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
    }
}

extension Double: KernelScalar {
    public static var dtype: DType { .float64 }
    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inline(__always) public static func erf(_ x: Double) -> Double { Glibc.erf(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    @inline(__always) public static func log1pexp(_ x: Double) -> Double {
        x > 0 ? x + log1p(Glibc.exp(-x)) : log1p(Glibc.exp(x))
    }
}
