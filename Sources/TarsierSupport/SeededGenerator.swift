/// A fast, seedable pseudo-random generator (xoshiro256**), seeded through SplitMix64.
///
/// Every random stream in Tarsier (weight initialisation, dropout, data order, augmentation)
/// uses this type so that a run is reproducible from its seed and its state can be checkpointed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    // Four scalar words rather than an array: `next()` runs once per initialised weight, and in
    // debug builds an array's bounds and uniqueness checks made weight initialisation of
    // 100M-parameter models take minutes.
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// The four words of internal state; exposed so checkpoints can save and restore a stream.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4, "SeededGenerator state has 4 words, got \(newValue.count)")
            (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    /// Creates a generator whose sequence depends only on `seed`.
    public init(seed: UInt64) {
        var splitMix = seed
        func nextWord() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = nextWord()
        s1 = nextWord()
        s2 = nextWord()
        s3 = nextWord()
    }

    private enum CodingKeys: String, CodingKey { case state }

    /// Decodes `{"state": [w0, w1, w2, w3]}`, the format checkpoints have always used.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let words = try container.decode([UInt64].self, forKey: .state)
        guard words.count == 4 else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: container,
                                                   debugDescription: "expected 4 state words, got \(words.count)")
        }
        (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
    }

    /// Encodes as `{"state": [w0, w1, w2, w3]}`.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        // Masking shifts (&<<, &>>) equal the plain ones for these constant amounts and avoid the
        // generic shift code debug builds call otherwise.
        let m = s1 &* 5
        let result = (m &<< 7 | m &>> 57) &* 9
        let t = s1 &<< 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 &<< 45 | s3 &>> 19
        return result
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        // Through Int (exact below 2^53): the concrete conversion, not the generic one.
        Double(Int(truncatingIfNeeded: next() &>> 11)) * 0x1.0p-53
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(Int(truncatingIfNeeded: next() &>> 40)) * 0x1.0p-24
    }

    /// A standard normal sample (Box-Muller).
    public mutating func nextNormal() -> Double {
        // 1 - u keeps the logarithm's argument in (0, 1].
        let u1 = 1.0 - nextUnitDouble()
        let u2 = nextUnitDouble()
        return (-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2)
    }

    /// A uniform integer in `0..<upperBound`, without modulo bias.
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "upperBound must be positive")
        return Int(next(upperBound: UInt64(upperBound)))
    }

    /// A new independent generator derived from this one (for per-worker or per-sample streams).
    public mutating func split() -> SeededGenerator {
        SeededGenerator(seed: next())
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
