/// The sample types an `Image` can hold (8 and 16 bits); lets the inner loops be written once.
protocol PixelSample: FixedWidthInteger & UnsignedInteger & Sendable {
    /// Wraps samples of this type into a pixel buffer.
    static func buffer(_ samples: [Self]) -> PixelBuffer
    /// The buffer's samples if they are of this type.
    static func samples(of buffer: PixelBuffer) -> [Self]?
    /// `degenerate + factor * (value - degenerate)` clipped to the sample range and truncated,
    /// in the precision Pillow uses for this depth (see `Blend`).
    static func mix(_ degenerate: Int, _ value: Self, _ factor: Double) -> Self
}

extension UInt8: PixelSample {
    static func buffer(_ samples: [UInt8]) -> PixelBuffer { .eight(samples) }
    static func samples(of buffer: PixelBuffer) -> [UInt8]? {
        if case .eight(let samples) = buffer { return samples }
        return nil
    }
}

extension UInt16: PixelSample {
    static func buffer(_ samples: [UInt16]) -> PixelBuffer { .sixteen(samples) }
    static func samples(of buffer: PixelBuffer) -> [UInt16]? {
        if case .sixteen(let samples) = buffer { return samples }
        return nil
    }
}

extension Image {
    /// An image from samples of either depth.
    init<S: PixelSample>(width: Int, height: Int, format: PixelFormat, samples: [S]) {
        self.init(width: width, height: height, format: format, pixels: S.buffer(samples))
    }

    /// Fill values as samples of this image: one value repeats for every channel. Values are
    /// clamped to the sample range, as Pillow clips colours.
    func fillSamples<S: PixelSample>(_ fill: [Int], as type: S.Type, transform: String) throws -> [S] {
        try require(fill.count == 1 || fill.count == channels, transform, "fill",
                    "needs 1 or \(channels) values for a \(format) image, got \(fill.count)")
        let values = fill.count == 1 ? [Int](repeating: fill[0], count: channels) : fill
        return values.map { S(clamping: $0) }
    }
}

/// Allocates an uninitialised array of `count` elements and lets `body` fill every one of them.
@inline(__always)
func makeArray<T>(count: Int, _ body: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> [T] {
    try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        try body(buffer)
        initialized = count
    }
}
