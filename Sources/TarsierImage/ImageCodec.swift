import Foundation

/// Limits checked against an image's declared size before any pixel memory is allocated.
public struct DecodeLimits: Sendable, Equatable {
    /// The most pixels (width x height) an image may declare; Pillow's default is 89,478,485.
    public var maxPixels: Int
    /// The widest or tallest an image may be.
    public var maxDimension: Int

    /// Creates limits.
    public init(maxPixels: Int = 89_478_485, maxDimension: Int = 65_535) {
        self.maxPixels = maxPixels
        self.maxDimension = maxDimension
    }

    /// Pillow's defaults.
    public static let standard = DecodeLimits()
}

/// Reads and writes JPEG and PNG files. (API placeholder: the codec work fills these in.)
public enum ImageCodec {
    /// Decodes a JPEG or PNG held in memory.
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: The name errors report (usually the path).
    ///   - format: Convert to this pixel format (as Pillow's `convert`), or keep the file's own.
    ///   - limits: Size limits checked before allocating.
    ///   - minimumSize: For JPEG, allows decoding at a reduced DCT scale as long as the result is
    ///     at least this wide and tall (nil decodes at full size).
    public static func decode(_ bytes: [UInt8], name: String, as format: PixelFormat? = nil,
                              limits: DecodeLimits = .standard,
                              minimumSize: (width: Int, height: Int)? = nil) throws -> Image {
        throw ImageError(kind: .unsupported, file: name, detail: "decoding is not implemented yet")
    }

    /// Reads and decodes the file at `path`.
    public static func decode(contentsOf path: String, as format: PixelFormat? = nil,
                              limits: DecodeLimits = .standard,
                              minimumSize: (width: Int, height: Int)? = nil) throws -> Image {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(kind: .unreadable, file: path, detail: "the file does not exist or cannot be read")
        }
        return try decode([UInt8](data), name: path, as: format, limits: limits, minimumSize: minimumSize)
    }
}
