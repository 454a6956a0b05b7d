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

/// An image decoded at a fraction of its full size.
public struct ReducedImage: Sendable, Equatable {
    /// The pixels: `ceil(full width * scale)` x `ceil(full height * scale)`.
    public var image: Image
    /// The decoded size as a fraction of the full size, in (0, 1]: pixel `x` of `image` covers
    /// columns `x / scale ..< (x + 1) / scale` of the full-size picture (likewise rows).
    public var scale: Double

    /// Pairs an image with its scale.
    public init(image: Image, scale: Double) {
        self.image = image
        self.scale = scale
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
            guard header.width > 0 && header.height > 0 else {
                throw ImageError(kind: .corrupt, file: name,
                                 detail: "JPEG: the frame header declares \(header.width)x\(header.height) pixels")
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
    /// `minimumScale` of the full size. JPEGs are scaled inside the inverse DCT by a factor among
    /// 1/2, 1/4 and 1/8 (the ones libjpeg-turbo has SIMD code for; the others are slower than
    /// the next larger one), which costs much less than decoding at full size and resizing;
    /// PNGs always decode at full size (scale 1). Size limits apply to the full size, so the same
    /// files are refused as by `decode`.
    /// - Parameters:
    ///   - minimumScale: The smallest acceptable fraction of the full size; 1 or more decodes at full size.
    ///   - Others: As `decode(_:name:as:limits:minimumSize:applyEXIFOrientation:)`.
    public static func decodeReduced(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as format: PixelFormat? = nil,
                                     limits: DecodeLimits = .standard, minimumScale: Double,
                                     applyEXIFOrientation: Bool = true) throws -> ReducedImage {
        if minimumScale < 1, ImageFileFormat.detect(bytes) == .jpeg {
            return try JPEGCodec.decodeReduced(bytes, name: name, as: format, limits: limits, minimumScale: minimumScale,
                                               applyOrientation: applyEXIFOrientation)
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
