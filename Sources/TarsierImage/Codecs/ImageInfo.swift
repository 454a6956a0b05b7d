/// What a file's header says about its picture, read without decoding any pixels.
public struct ImageInfo: Sendable, Equatable {
    /// The file format, told by the first bytes.
    public var format: ImageFileFormat
    /// The size of the decoded image: after the EXIF orientation when it is applied.
    public var size: ImageSize
    /// The EXIF orientation (1...8) that is applied; 1 when there is none or it is not applied.
    public var orientation: Int

    /// Creates a description.
    public init(format: ImageFileFormat, size: ImageSize, orientation: Int) {
        self.format = format
        self.size = size
        self.orientation = orientation
    }
}

/// An image decoded at a fraction of its full size, possibly only a part of it.
public struct ReducedImage: Sendable, Equatable {
    /// The pixels: the whole picture at `scale`, or a window of it.
    public var image: Image
    /// The decoded size as a fraction of the full size, in (0, 1].
    public var scale: Double
    /// Where the full-size picture lies in `image`: its point (x, y) (upright, in pixels, the
    /// top-left corner of pixel (0, 0) being (0, 0)) lies at (x * scale - left, y * scale - top).
    /// Zero for the whole picture decoded upright as stored.
    public var left: Double
    /// See `left`.
    public var top: Double

    /// Pairs an image with its scale and position.
    public init(image: Image, scale: Double, left: Double = 0, top: Double = 0) {
        self.image = image
        self.scale = scale
        self.left = left
        self.top = top
    }
}

extension ImageCodec {
    /// The format, upright size and orientation of a JPEG or PNG held in memory, from its
    /// header alone (microseconds: no pixel is decoded and nothing large is allocated). A file
    /// that `info` accepts may still fail to decode.
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: The name errors report.
    ///   - applyEXIFOrientation: Report the size after the EXIF orientation, as `decode` gives it.
    public static func info(_ bytes: UnsafeBufferPointer<UInt8>, name: String,
                            applyEXIFOrientation: Bool = true) throws -> ImageInfo {
        guard !bytes.isEmpty else { throw ImageError(kind: .empty, file: name, detail: "the file has no bytes") }
        switch ImageFileFormat.detect(bytes) {
        case .jpeg?:
            let header = try JPEGHeader.parse(bytes, name: name)
            // The same errors as `decode` gives for these.
            guard header.width > 0 else {
                throw ImageError(kind: .corrupt, file: name, detail: "JPEG: the frame header declares width 0")
            }
            guard header.height > 0 else {
                throw ImageError(kind: .unsupported, file: name, detail: "JPEG: the height is given by a DNL marker, "
                                     + "which libjpeg-turbo does not support")
            }
            var orientation = 1
            if applyEXIFOrientation, let range = header.exif {
                let exif = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[range]))
                orientation = EXIFOrientation.orientation(inEXIF: exif) ?? 1
            }
            return ImageInfo(format: .jpeg, size: upright(header.width, header.height, orientation),
                             orientation: orientation)
        case .png?:
            let header = try PNGCodec.header(bytes, name: name, readOrientation: applyEXIFOrientation)
            return ImageInfo(format: .png, size: upright(header.width, header.height, header.orientation),
                             orientation: header.orientation)
        case nil:
            throw unrecognised(bytes, name: name)
        }
    }

    /// The header of a file held in an array; see `info(_:name:applyEXIFOrientation:)`.
    public static func info(_ bytes: [UInt8], name: String, applyEXIFOrientation: Bool = true) throws -> ImageInfo {
        try bytes.withUnsafeBufferPointer { try info($0, name: name, applyEXIFOrientation: applyEXIFOrientation) }
    }

    /// Decodes at the smallest size the format can produce cheaply that is still at least
    /// `minimumScale` of the full size, and only around `region` if one is given. JPEGs are
    /// scaled inside the inverse DCT by the smallest of 7/8, 3/4, ... 1/8 that is large enough,
    /// which costs less than decoding at full size and makes any resize after it cheaper; with a
    /// region, columns outside it are skipped in whole blocks, rows above it are only
    /// entropy-decoded and rows below it are never read.
    /// PNGs always decode whole at full size. Size limits apply to the full size, so the same
    /// files are refused as by `decode`.
    /// - Parameters:
    ///   - minimumScale: The smallest acceptable fraction of the full size; 1 or more decodes at full size.
    ///   - region: The part of the upright, full-size picture that is needed (nil: all of it);
    ///     the result holds at least that part, at the scale, with the pixels a whole decode at
    ///     that scale gives. Pixels outside it may differ slightly at the window's edges. It is
    ///     clipped to the picture.
    ///   - Others: As `decode(_:name:as:limits:minimumSize:applyEXIFOrientation:)`.
    public static func decodeReduced(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat? = nil,
                                     limits: DecodeLimits = .standard, minimumScale: Double, region: CropBox? = nil,
                                     applyEXIFOrientation: Bool = true) throws -> ReducedImage {
        if ImageFileFormat.detect(bytes) == .jpeg {
            if let region {
                return try JPEGCodec.decodeRegion(bytes, name: name, as: format, limits: limits,
                                                  minimumScale: minimumScale, region: region,
                                                  applyOrientation: applyEXIFOrientation)
            }
            if minimumScale < 1 {
                return try JPEGCodec.decodeReduced(bytes, name: name, as: format, limits: limits,
                                                   minimumScale: minimumScale, applyOrientation: applyEXIFOrientation)
            }
        }
        return ReducedImage(image: try decode(bytes, name: name, as: format, limits: limits,
                                              applyEXIFOrientation: applyEXIFOrientation),
                            scale: 1)
    }

    /// The size shown after `orientation`: 5 to 8 swap the sides.
    private static func upright(_ width: Int, _ height: Int, _ orientation: Int) -> ImageSize {
        EXIFOrientation.swapsAxes(orientation) ? ImageSize(width: height, height: width)
                                               : ImageSize(width: width, height: height)
    }
}
