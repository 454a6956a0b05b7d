import CTurboJPEG

/// JPEG decoding and encoding through libjpeg-turbo's TurboJPEG API.
///
/// Decoding matches Pillow's defaults (accurate integer IDCT, smooth chroma upsampling), so
/// pixels agree with `Image.open(path).convert("RGB")` on the same libjpeg-turbo. Every call makes
/// its own TurboJPEG handle, which costs microseconds and makes concurrent calls safe.
enum JPEGCodec {
    /// The colour model libjpeg reports for a file.
    enum Source { case gray, color, cmyk }

    /// TurboJPEG's DCT scaling factors that shrink or keep the size, largest first.
    static let reducingFactors: [(num: Int, denom: Int)] = {
        var count: Int32 = 0
        guard let list = tjGetScalingFactors(&count), count > 0 else { return [(1, 1)] }
        let all = (0..<Int(count)).map { (num: Int(list[$0].num), denom: Int(list[$0].denom)) }
        let reducing = all.filter { $0.num > 0 && $0.num <= $0.denom }
        return reducing.isEmpty ? [(1, 1)] : reducing.sorted { $0.num * $1.denom > $1.num * $0.denom }
    }()

    /// `dimension` scaled by `num/denom`, rounded up, as TurboJPEG's `TJSCALED`.
    static func scaled(_ dimension: Int, _ factor: (num: Int, denom: Int)) -> Int {
        (dimension * factor.num + factor.denom - 1) / factor.denom
    }

    /// The smallest reducing factor whose result still covers `needed` (stored orientation).
    private static func factor(width: Int, height: Int, covering needed: (width: Int, height: Int)?)
        -> (num: Int, denom: Int) {
        guard let needed else { return (1, 1) }
        var best = (num: 1, denom: 1)
        for factor in reducingFactors {
            let w = scaled(width, factor), h = scaled(height, factor)
            if w >= needed.width && h >= needed.height
                && w * h < scaled(width, best) * scaled(height, best) { best = factor }
        }
        return best
    }

    /// The header, checked for what libjpeg-turbo decodes and against the limits, and the EXIF
    /// orientation to apply (1 when there is none or it is not applied).
    static func validatedHeader(_ bytes: UnsafeBufferPointer<UInt8>, name: String, limits: DecodeLimits,
                                applyOrientation: Bool) throws -> (header: JPEGHeader, orientation: Int) {
        func failure(_ kind: ImageError.Kind, _ detail: String) -> ImageError {
            ImageError(kind: kind, file: name, detail: "JPEG: \(detail)")
        }
        let header = try JPEGHeader.parse(bytes, name: name)
        guard header.precision == 8 else {
            throw failure(.unsupported, "\(header.precision)-bit samples (only 8-bit JPEGs are supported)")
        }
        switch header.frameMarker {
        case 0xC0, 0xC1, 0xC2, 0xC9, 0xCA: break
        case 0xC3, 0xC7, 0xCB, 0xCF:
            let marker = JPEGHeader.hex(header.frameMarker)
            throw failure(.unsupported, "lossless JPEG (SOF marker 0xFF\(marker)) is not supported")
        default:
            let marker = JPEGHeader.hex(header.frameMarker)
            throw failure(.unsupported, "hierarchical JPEG (SOF marker 0xFF\(marker)) is not supported")
        }
        guard header.width > 0 else { throw failure(.corrupt, "the frame header declares width 0") }
        guard header.height > 0 else {
            throw failure(.unsupported, "the height is given by a DNL marker, which libjpeg-turbo does not support")
        }
        try limits.check(width: header.width, height: header.height, file: name)
        guard [1, 3, 4].contains(header.components) else {
            throw failure(.unsupported, "\(header.components) colour components (1, 3 or 4 are supported)")
        }
        var orientation = 1
        if applyOrientation, let range = header.exif {
            let exif = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[range]))
            orientation = EXIFOrientation.orientation(inEXIF: exif) ?? 1
        }
        return (header, orientation)
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as target: PixelFormat?,
                       limits: DecodeLimits, minimumSize: (width: Int, height: Int)?,
                       applyOrientation: Bool) throws -> Image {
        try decode(bytes, name: name, as: target, limits: limits, applyOrientation: applyOrientation) {
            width, height, swaps in
            let needed = minimumSize.map { swaps ? (width: $0.height, height: $0.width) : $0 }
            return factor(width: width, height: height, covering: needed)
        }.image
    }

    /// Decodes at the smallest factor that is at least `minimumScale`.
    static func decodeReduced(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as target: PixelFormat?,
                              limits: DecodeLimits, minimumScale: Double, applyOrientation: Bool) throws -> ReducedImage {
        try decode(bytes, name: name, as: target, limits: limits, applyOrientation: applyOrientation) { _, _, _ in
            // Largest first, so the last one that is large enough is the smallest.
            reducingFactors.last { Double($0.num) / Double($0.denom) >= minimumScale } ?? (1, 1)
        }
    }

    /// Decodes at the factor `choose` picks from the stored width and height and whether the
    /// orientation swaps the axes; returns the image and the factor TurboJPEG applied.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as target: PixelFormat?,
                               limits: DecodeLimits, applyOrientation: Bool,
                               choose: (Int, Int, Bool) -> (num: Int, denom: Int)) throws -> ReducedImage {
        func failure(_ kind: ImageError.Kind, _ detail: String) -> ImageError {
            ImageError(kind: kind, file: name, detail: "JPEG: \(detail)")
        }
        let (header, orientation) = try validatedHeader(bytes, name: name, limits: limits,
                                                        applyOrientation: applyOrientation)

        guard let handle = tjInitDecompress() else {
            let message = String(cString: tjGetErrorStr2(nil))
            throw failure(.unsupported, "TurboJPEG could not create a decompressor: \(message)")
        }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = -1, colorspace: Int32 = -1
        let headerStatus = tjDecompressHeader3(handle, bytes.baseAddress, UInt(bytes.count),
                                               &width, &height, &subsampling, &colorspace)
        // TurboJPEG fills the fields before rejecting unusual chroma subsampling, which libjpeg
        // still decodes; only a header it could not read at all is fatal here.
        if headerStatus != 0 && (width <= 0 || height <= 0 || colorspace < 0) {
            throw classify(String(cString: tjGetErrorStr2(handle)), name: name)
        }
        try limits.check(width: Int(width), height: Int(height), file: name)

        let source: Source
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue): source = .gray
        case Int32(TJCS_RGB.rawValue), Int32(TJCS_YCbCr.rawValue): source = .color
        case Int32(TJCS_CMYK.rawValue), Int32(TJCS_YCCK.rawValue): source = .cmyk
        default: throw failure(.unsupported, "unknown colour space \(colorspace)")
        }

        // Decode straight into the pixel layout wanted where libjpeg's own conversion equals
        // Pillow's (grey replicated into RGB, opaque alpha); other targets convert afterwards.
        let pixelFormat: TJPF, decoded: PixelFormat, pixelSize: Int
        switch (source, target) {
        case (.cmyk, _): (pixelFormat, decoded, pixelSize) = (TJPF_CMYK, .rgb, 4)
        case (_, .rgba?): (pixelFormat, decoded, pixelSize) = (TJPF_RGBA, .rgba, 4)
        case (.gray, .rgb?): (pixelFormat, decoded, pixelSize) = (TJPF_RGB, .rgb, 3)
        case (.gray, _): (pixelFormat, decoded, pixelSize) = (TJPF_GRAY, .gray, 1)
        case (.color, _): (pixelFormat, decoded, pixelSize) = (TJPF_RGB, .rgb, 3)
        }

        let chosen = choose(Int(width), Int(height), EXIFOrientation.swapsAxes(orientation))
        let outWidth = scaled(Int(width), chosen), outHeight = scaled(Int(height), chosen)
        // TurboJPEG applies the largest factor whose result fits the size asked for; on tiny
        // images that can be a larger factor than the one chosen, with the same result size.
        let applied = reducingFactors.first {
            scaled(Int(width), $0) <= outWidth && scaled(Int(height), $0) <= outHeight
        } ?? chosen
        let count = outWidth * outHeight * pixelSize
        let flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS

        var samples = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let status = tjDecompress2(handle, bytes.baseAddress, UInt(bytes.count), buffer.baseAddress,
                                       Int32(outWidth), 0, Int32(outHeight), Int32(pixelFormat.rawValue), flags)
            if status != 0 {
                let message = String(cString: tjGetErrorStr2(handle))
                guard tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) else {
                    throw classify(message, name: name)
                }
                // libjpeg pads a cut-off file with grey and warns; Pillow refuses such files
                // but decodes past other warnings (corrupt entropy data), so do the same.
                if message.contains("Premature end of JPEG file") || !header.hasEndMarker(in: bytes) {
                    throw failure(.truncated, "the file ends before its image data does (\(message))")
                }
            }
            initialized = count
        }
        if source == .cmyk { samples = cmykToRGB(samples, pixels: outWidth * outHeight) }
        let image = upright(samples, width: outWidth, height: outHeight, format: decoded, orientation: orientation,
                            target: target)
        let scale = Double(applied.num) / Double(applied.denom)
        let whole = JPEGWindow(left: 0, top: 0, width: outWidth, height: outHeight)
        let origin = whole.uprightOrigin(orientation: orientation, stored: ImageSize(width: Int(width), height: Int(height)),
                                         scaled: ImageSize(width: outWidth, height: outHeight), scale: scale)
        return ReducedImage(image: image, scale: scale, left: origin.left, top: origin.top)
    }

    /// Decoded samples turned upright by `orientation` and converted to `target`.
    static func upright(_ samples: [UInt8], width: Int, height: Int, format: PixelFormat, orientation: Int,
                        target: PixelFormat?) -> Image {
        var image: Image
        if orientation != 1 {
            let upright = EXIFOrientation.apply(orientation, to: samples, width: width, height: height,
                                                channels: format.channels)
            image = Image(width: upright.width, height: upright.height, format: format, bytes: upright.pixels)
        } else {
            image = Image(width: width, height: height, format: format, bytes: samples)
        }
        if let target, target != format { image = image.converted(to: target) }
        return image
    }

    /// An error for a TurboJPEG/libjpeg message. The frame type, precision and component count
    /// were checked before, so libjpeg's "Unsupported marker/process" messages come from
    /// damaged bytes and count as corrupt.
    static func classify(_ message: String, name: String) -> ImageError {
        let kind: ImageError.Kind
        if message.contains("Premature end") {
            kind = .truncated
        } else if message.contains("Maximum supported image dimension") {
            kind = .tooLarge
        } else if message.contains("not supported") || message.contains("more than 500 scans")
                    || message.contains("Unsupported JPEG data precision") {
            kind = .unsupported
        } else {
            kind = .corrupt
        }
        return ImageError(kind: kind, file: name, detail: "JPEG: \(message)")
    }

    /// Pillow's CMYK to RGB. libjpeg returns CMYK as stored, which Pillow reads with Adobe's
    /// inverted polarity ("CMYK;I"), then maps with `r = (255 - k) - c * (255 - k) / 255`.
    static func cmykToRGB(_ cmyk: [UInt8], pixels: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pixels * 3) { out, initialized in
            cmyk.withUnsafeBufferPointer { src in
                for p in 0..<pixels {
                    let inverseK = Int(src[4 * p + 3])  // 255 - k, with k inverted
                    for channel in 0..<3 {
                        let t = (255 - Int(src[4 * p + channel])) * inverseK + 128
                        out[3 * p + channel] = UInt8(clamping: inverseK - (((t >> 8) + t) >> 8))
                    }
                }
            }
            initialized = pixels * 3
        }
    }

    /// A baseline JPEG with 4:2:0 chroma (Pillow's default) or a greyscale one. 16-bit images
    /// are rounded to 8 bits and alpha is dropped, as JPEG has neither.
    static func encode(_ image: Image, quality: Int, name: String) throws -> [UInt8] {
        func failure(_ detail: String) -> ImageError {
            ImageError(kind: .unwritable, file: name, detail: "JPEG: \(detail)")
        }
        guard (1...100).contains(quality) else { throw failure("quality must be in 1...100, got \(quality)") }
        guard image.width <= 65_535 && image.height <= 65_535 else {
            throw failure("\(image.width)x\(image.height) exceeds JPEG's largest side of 65535")
        }
        var source = image.toEightBit()
        switch source.format {
        case .grayAlpha: source = source.converted(to: .gray)
        case .rgba: source = source.converted(to: .rgb)
        case .gray, .rgb: break
        }
        let gray = source.format == .gray
        guard let samples = source.bytes else { throw failure("internal: no 8-bit samples") }
        guard let handle = tjInitCompress() else {
            throw failure("TurboJPEG could not create a compressor: \(String(cString: tjGetErrorStr2(nil)))")
        }
        defer { tjDestroy(handle) }

        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        defer { if let output { tjFree(output) } }
        let status = samples.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(source.width), 0, Int32(source.height),
                        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &output, &size,
                        Int32((gray ? TJSAMP_GRAY : TJSAMP_420).rawValue), Int32(quality), TJFLAG_ACCURATEDCT)
        }
        guard status == 0, let output else { throw failure(String(cString: tjGetErrorStr2(handle))) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}
