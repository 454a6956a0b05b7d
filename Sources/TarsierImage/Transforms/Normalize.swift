import TarsierSupport

extension ImageFunctional {
    /// `(x - mean) / std` per channel in single precision, as torchvision's `normalize`; one mean
    /// and std for every channel, or one per channel.
    public static func normalize(_ image: PlanarImage, mean: [Float], std: [Float]) throws -> PlanarImage {
        try Normalize.check(mean: mean, std: std, channels: image.channels)
        var out = image
        let plane = image.height * image.width
        out.values.withUnsafeMutableBufferPointer { values in
            for c in 0..<image.channels {
                let m = mean.count == 1 ? mean[0] : mean[c], s = std.count == 1 ? std[0] : std[c]
                for i in (c * plane)..<((c + 1) * plane) { values[i] = (values[i] - m) / s }
            }
        }
        return out
    }
}

/// Subtracts a mean and divides by a standard deviation per channel (torchvision's `Normalize`).
public struct Normalize: PlanarTransform {
    /// Per-channel means (or one for all channels).
    public let mean: [Float]
    /// Per-channel standard deviations (or one for all channels).
    public let std: [Float]

    /// The statistics of ImageNet's training set, which torchvision's pretrained models expect.
    /// (Written as doubles and then narrowed, as torchvision narrows Python floats, which is not
    /// always the same as a `Float` literal.)
    public static let imageNet = Normalize(unchecked: ([0.485, 0.456, 0.406] as [Double]).map(Float.init),
                                           std: ([0.229, 0.224, 0.225] as [Double]).map(Float.init))

    /// Normalizes with the given statistics, converted to single precision as torchvision does.
    public init(mean: [Double], std: [Double]) throws {
        try require(!mean.isEmpty && mean.count == std.count, "Normalize", "mean/std",
                    "need the same non-zero number of values, got \(mean.count) and \(std.count)")
        try require(mean.allSatisfy(\.isFinite), "Normalize", "mean", "must be finite, got \(mean)")
        try require(std.allSatisfy { $0.isFinite && Float($0) != 0 }, "Normalize", "std",
                    "must be finite and non-zero, got \(std)")
        self.init(unchecked: mean.map(Float.init), std: std.map(Float.init))
    }

    private init(unchecked mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    static func check(mean: [Float], std: [Float], channels: Int) throws {
        try require(mean.count == std.count && (mean.count == 1 || mean.count == channels), "Normalize", "mean/std",
                    "need 1 or \(channels) values for a \(channels)-channel image, got \(mean.count) and \(std.count)")
        try require(std.allSatisfy { $0 != 0 }, "Normalize", "std", "must be non-zero, got \(std)")
    }

    /// Normalizes; draws nothing.
    public func apply(_ image: PlanarImage, using generator: inout SeededGenerator) throws -> PlanarImage {
        try ImageFunctional.normalize(image, mean: mean, std: std)
    }

    /// `image.planar()` followed by this normalization in one pass. The arithmetic is the same
    /// (`(Float(v) / 255 - mean) / std`), so the values are bit for bit those of the two steps;
    /// 8-bit images go through a 256-entry table per channel.
    func planarNormalized(_ image: Image) throws -> PlanarImage {
        try Normalize.check(mean: mean, std: std, channels: image.channels)
        guard case .eight(let samples) = image.pixels else {
            return try ImageFunctional.normalize(image.planar(), mean: mean, std: std)
        }
        let c = image.channels, plane = image.width * image.height
        var tables = [Float](repeating: 0, count: 256 * c)
        for ch in 0..<c {
            let m = mean.count == 1 ? mean[0] : mean[ch], s = std.count == 1 ? std[0] : std[ch]
            for v in 0..<256 { tables[ch * 256 + v] = (Float(v) / 255 - m) / s }
        }
        let values: [Float] = makeArray(count: c * plane) { out in
            samples.withUnsafeBufferPointer { src in
                tables.withUnsafeBufferPointer { table in
                    guard let o = out.baseAddress, let s = src.baseAddress, let t = table.baseAddress else { return }
                    if c == 3 {
                        // One pass over the interleaved samples for the usual RGB case.
                        for p in 0..<plane {
                            o[p] = t[Int(s[3 * p])]
                            o[plane + p] = t[256 + Int(s[3 * p + 1])]
                            o[2 * plane + p] = t[512 + Int(s[3 * p + 2])]
                        }
                        return
                    }
                    for ch in 0..<c {
                        for p in 0..<plane { o[ch * plane + p] = t[ch * 256 + Int(s[p * c + ch])] }
                    }
                }
            }
        }
        return PlanarImage(channels: c, height: image.height, width: image.width, values: values)
    }
}
