import TarsierSupport

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

    /// Throws `.tooLarge` when a declared size breaks the limits.
    func check(width: Int, height: Int, file: String) throws {
        if width > maxDimension || height > maxDimension {
            throw ImageError(kind: .tooLarge, file: file,
                             detail: "it declares \(width)x\(height) pixels; the largest side allowed is \(maxDimension)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maxPixels {
            throw ImageError(kind: .tooLarge, file: file,
                             detail: "it declares \(width)x\(height) pixels, more than the limit of \(maxPixels)")
        }
    }
}

/// Reads and writes JPEG and PNG files.
///
/// Decoding gives the pixels Pillow gives for the same file (`Image.open` then
/// `ImageOps.exif_transpose` then `convert`), from libjpeg-turbo and libspng. Every failure is an
/// `ImageError` naming the file; sizes are checked against `DecodeLimits` before pixel memory
/// is allocated. All functions may be called from several threads at once.
public enum ImageCodec {
    /// Decodes a JPEG or PNG held in memory. The format is told by the first bytes, not the name.
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: The name errors report (usually the path).
    ///   - format: Convert to this pixel format (as Pillow's `convert`), or keep the file's own:
    ///     `.gray` or `.rgb` for JPEG (CMYK JPEGs become `.rgb`); for PNG the colour type's
    ///     layout, palettes as `.rgb`, or `.rgba` when they have transparency. 16-bit PNGs keep
    ///     16-bit samples.
    ///   - limits: Size limits checked before allocating.
    ///   - minimumSize: For JPEG, allows decoding at a reduced DCT scale as long as the result is
    ///     at least this wide and tall (nil decodes at full size). The size is that of the
    ///     upright image.
    ///   - applyEXIFOrientation: Turn the image upright by its EXIF orientation tag, as
    ///     Pillow's `ImageOps.exif_transpose` does (JPEG APP1 or PNG eXIf).
    public static func decode(_ bytes: [UInt8], name: String, as format: PixelFormat? = nil,
                              limits: DecodeLimits = .standard,
                              minimumSize: (width: Int, height: Int)? = nil,
                              applyEXIFOrientation: Bool = true) throws -> Image {
        try bytes.withUnsafeBufferPointer { buffer in
            try decode(buffer, name: name, as: format, limits: limits, minimumSize: minimumSize,
                       applyEXIFOrientation: applyEXIFOrientation)
        }
    }

    /// Decodes a JPEG or PNG from memory the caller keeps alive for the call; see
    /// `decode(_:name:as:limits:minimumSize:applyEXIFOrientation:)`.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat? = nil,
                              limits: DecodeLimits = .standard,
                              minimumSize: (width: Int, height: Int)? = nil,
                              applyEXIFOrientation: Bool = true) throws -> Image {
        guard !bytes.isEmpty else { throw ImageError(kind: .empty, file: name, detail: "the file has no bytes") }
        switch ImageFileFormat.detect(bytes) {
        case .jpeg?:
            return try JPEGCodec.decode(bytes, name: name, as: format, limits: limits, minimumSize: minimumSize,
                                        applyOrientation: applyEXIFOrientation)
        case .png?:
            return try PNGCodec.decode(bytes, name: name, as: format, limits: limits,
                                       applyOrientation: applyEXIFOrientation)
        case nil:
            throw unrecognised(bytes, name: name)
        }
    }

    /// The error for bytes that are neither JPEG nor PNG: a cut-off signature or another format.
    static func unrecognised(_ bytes: UnsafeBufferPointer<UInt8>, name: String) -> ImageError {
        if ImageFileFormat.isSignaturePrefix(bytes) {
            return ImageError(kind: .truncated, file: name,
                              detail: "the file ends inside its signature (\(bytes.count) bytes)")
        }
        let what = ImageFileFormat.unsupportedFormatName(bytes).map { "it is a \($0) file" }
            ?? "it is not an image file this decoder knows"
        return ImageError(kind: .unsupported, file: name, detail: "\(what); supported formats are JPEG and PNG")
    }

    /// Reads and decodes the file at `path`; see `decode(_:name:as:limits:minimumSize:applyEXIFOrientation:)`.
    public static func decode(contentsOf path: String, as format: PixelFormat? = nil,
                              limits: DecodeLimits = .standard,
                              minimumSize: (width: Int, height: Int)? = nil,
                              applyEXIFOrientation: Bool = true) throws -> Image {
        let bytes = try ImageFileReader.read(path)
        return try decode(bytes, name: path, as: format, limits: limits, minimumSize: minimumSize,
                          applyEXIFOrientation: applyEXIFOrientation)
    }

    /// Reads the whole file at `path` into `buffer` with `open`/`read`, growing the buffer when
    /// the file is larger (never shrinking it, so a buffer kept per thread is allocated once), and
    /// returns the number of bytes read: the file is `buffer[..<count]`.
    public static func readFile(_ path: String, into buffer: inout [UInt8]) throws -> Int {
        try ImageFileReader.read(path, into: &buffer)
    }

    /// A PNG file holding `image` losslessly: its pixel format as the colour type, 8 or 16 bits.
    public static func encodePNG(_ image: Image) throws -> [UInt8] {
        try PNGCodec.encode(image, name: "<PNG in memory>")
    }

    /// A JPEG file of `image` at `quality` (1...100) with 4:2:0 chroma, as Pillow saves by
    /// default. Alpha is dropped and 16-bit samples are rounded to 8 bits, as JPEG has neither.
    public static func encodeJPEG(_ image: Image, quality: Int = 90) throws -> [UInt8] {
        try JPEGCodec.encode(image, quality: quality, name: "<JPEG in memory>")
    }

    /// Writes `image` to `path` as PNG (`.png`) or JPEG (`.jpg`, `.jpeg`) by the extension,
    /// atomically: readers see the old file or the complete new one, never a partial one.
    public static func write(_ image: Image, to path: String, quality: Int = 90) throws {
        let bytes: [UInt8]
        switch ImageFileFormat(pathExtensionOf: path) {
        case .png?: bytes = try PNGCodec.encode(image, name: path)
        case .jpeg?: bytes = try JPEGCodec.encode(image, quality: quality, name: path)
        case nil:
            throw ImageError(kind: .unsupported, file: path,
                             detail: "cannot tell the format from the extension; use .png, .jpg or .jpeg")
        }
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw ImageError(kind: .unwritable, file: path, detail: "\(error)")
        }
    }
}
