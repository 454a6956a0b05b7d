import CSpng

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PNG decoding and encoding through libspng.
///
/// Results match Pillow's `convert` of the file: bit depths 1, 2 and 4 are widened to 8 by bit
/// replication (0/255 for 1-bit), palettes are expanded (with alpha when a tRNS chunk is
/// present), 16-bit files keep 16-bit samples in host order, and gAMA is ignored as Pillow
/// ignores it. Every call makes its own spng context, so concurrent calls are safe.
enum PNGCodec {
    /// The largest single ancillary chunk (after inflating zTXt/iCCP) and the total kept.
    static let chunkSizeLimit = 8 << 20
    static let chunkCacheLimit = 32 << 20

    private static let grayscale = UInt8(SPNG_COLOR_TYPE_GRAYSCALE.rawValue)
    private static let truecolor = UInt8(SPNG_COLOR_TYPE_TRUECOLOR.rawValue)
    private static let indexed = UInt8(SPNG_COLOR_TYPE_INDEXED.rawValue)
    private static let grayscaleAlpha = UInt8(SPNG_COLOR_TYPE_GRAYSCALE_ALPHA.rawValue)
    private static let truecolorAlpha = UInt8(SPNG_COLOR_TYPE_TRUECOLOR_ALPHA.rawValue)

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as target: PixelFormat?,
                       limits: DecodeLimits, applyOrientation: Bool) throws -> Image {
        // IHDR sits at a fixed offset; checking it first gives the size in the message.
        if bytes.count >= 24 && Array(bytes[12..<16]) == Array("IHDR".utf8) {
            try limits.check(width: Int(bigEndian32(bytes, 16)), height: Int(bigEndian32(bytes, 20)), file: name)
        }
        guard let ctx = spng_ctx_new(0) else {
            throw ImageError(kind: .unsupported, file: name, detail: "PNG: libspng could not create a decoder")
        }
        defer { spng_ctx_free(ctx) }
        let sideLimit = UInt32(clamping: min(limits.maxDimension, Int(Int32.max)))
        spng_set_image_limits(ctx, sideLimit, sideLimit)
        spng_set_chunk_limits(ctx, chunkSizeLimit, chunkCacheLimit)
        try check(spng_set_png_buffer(ctx, bytes.baseAddress, bytes.count), name)

        var ihdr = spng_ihdr()
        try check(spng_get_ihdr(ctx, &ihdr), name)
        let width = Int(ihdr.width), height = Int(ihdr.height)
        try limits.check(width: width, height: height, file: name)

        var trns = spng_trns()
        let trnsStatus = spng_get_trns(ctx, &trns)
        if trnsStatus != 0 && trnsStatus != Int32(SPNG_ECHUNKAVAIL.rawValue) { try check(trnsStatus, name) }
        let plan = outputPlan(colorType: ihdr.color_type, deep: ihdr.bit_depth == 16,
                              hasTransparency: trnsStatus == 0, target: target)

        var size = 0
        try check(spng_decoded_image_size(ctx, plan.fmt, &size), name)
        let sampleBytes = plan.sixteen ? 2 : 1
        let (pixelCount, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, size / (plan.format.channels * sampleBytes) == pixelCount,
              size % (plan.format.channels * sampleBytes) == 0 else {
            throw ImageError(kind: .corrupt, file: name,
                             detail: "PNG: libspng reports \(size) bytes for a \(width)x\(height) \(plan.format) image")
        }
        let pixels: PixelBuffer
        if plan.sixteen {
            pixels = .sixteen(try [UInt16](unsafeUninitializedCapacity: size / 2) { buffer, initialized in
                try check(spng_decode_image(ctx, buffer.baseAddress, size, plan.fmt, plan.flags), name)
                initialized = size / 2
            })
        } else {
            pixels = .eight(try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                try check(spng_decode_image(ctx, buffer.baseAddress, size, plan.fmt, plan.flags), name)
                initialized = size
            })
        }
        // Read the chunks after the image up to IEND so a cut-off file is reported; damage in
        // those (ancillary) chunks is ignored, as Pillow ignores it. libspng stops before
        // IEND's checksum, so the last four bytes are checked here.
        let trailing = spng_decode_chunks(ctx)
        if trailing == Int32(SPNG_IO_EOF.rawValue) || (trailing == 0 && !hasCompleteEnd(bytes)) {
            try check(Int32(SPNG_IO_EOF.rawValue), name)
        }

        var orientation = 1
        var exif = spng_exif()
        if applyOrientation && trailing == 0 && spng_get_exif(ctx, &exif) == 0, let data = exif.data {
            let block = UnsafeRawBufferPointer(start: data, count: exif.length)
            orientation = EXIFOrientation.orientation(inEXIF: block) ?? 1
        }
        var image: Image
        if orientation != 1 {
            let channels = plan.format.channels
            switch pixels {
            case .eight(let samples):
                let upright = EXIFOrientation.apply(orientation, to: samples, width: width, height: height,
                                                    channels: channels)
                image = Image(width: upright.width, height: upright.height, format: plan.format, bytes: upright.pixels)
            case .sixteen(let samples):
                let upright = EXIFOrientation.apply(orientation, to: samples, width: width, height: height,
                                                    channels: channels)
                image = Image(width: upright.width, height: upright.height, format: plan.format,
                              pixels: .sixteen(upright.pixels))
            }
        } else {
            image = Image(width: width, height: height, format: plan.format, pixels: pixels)
        }
        if let target, target != image.format { image = image.converted(to: target) }
        return image
    }

    /// How to ask libspng for the pixels: its output format and flags, and what comes out.
    struct OutputPlan: Equatable {
        var fmt: Int32
        var flags: Int32
        var format: PixelFormat
        var sixteen: Bool
    }

    /// Picks libspng's output so the decode lands in `target` directly when libspng's own
    /// conversion equals Pillow's; otherwise the file's natural layout, converted afterwards.
    /// tRNS turns into alpha only where Pillow's `convert` uses it: palette images always
    /// (their natural layout is RGBA then), grey and RGB images when alpha is asked for.
    static func outputPlan(colorType: UInt8, deep: Bool, hasTransparency: Bool, target: PixelFormat?) -> OutputPlan {
        let rgba8 = Int32(SPNG_FMT_RGBA8.rawValue), rgba16 = Int32(SPNG_FMT_RGBA16.rawValue)
        let rgb8 = Int32(SPNG_FMT_RGB8.rawValue), g8 = Int32(SPNG_FMT_G8.rawValue)
        let ga8 = Int32(SPNG_FMT_GA8.rawValue), ga16 = Int32(SPNG_FMT_GA16.rawValue)
        let native = Int32(SPNG_FMT_PNG.rawValue)
        let trns = Int32(SPNG_DECODE_TRNS.rawValue)
        switch target {
        case .rgba?:
            return OutputPlan(fmt: deep ? rgba16 : rgba8, flags: trns, format: .rgba, sixteen: deep)
        case .rgb? where !deep && colorType != grayscaleAlpha && colorType != truecolorAlpha:
            return OutputPlan(fmt: rgb8, flags: 0, format: .rgb, sixteen: false)
        case .gray? where !deep && colorType == grayscale:
            return OutputPlan(fmt: g8, flags: 0, format: .gray, sixteen: false)
        case .grayAlpha? where colorType == grayscale:
            return OutputPlan(fmt: deep ? ga16 : ga8, flags: trns, format: .grayAlpha, sixteen: deep)
        default:
            break
        }
        switch colorType {
        case grayscale:
            return OutputPlan(fmt: deep ? native : g8, flags: 0, format: .gray, sixteen: deep)
        case truecolor:
            return OutputPlan(fmt: deep ? native : rgb8, flags: 0, format: .rgb, sixteen: deep)
        case indexed:
            return hasTransparency ? OutputPlan(fmt: rgba8, flags: trns, format: .rgba, sixteen: false)
                                   : OutputPlan(fmt: rgb8, flags: 0, format: .rgb, sixteen: false)
        case grayscaleAlpha:
            return OutputPlan(fmt: native, flags: 0, format: .grayAlpha, sixteen: deep)
        default:
            return OutputPlan(fmt: deep ? native : rgba8, flags: 0, format: .rgba, sixteen: deep)
        }
    }

    /// A PNG of `image` in its own layout and depth (no palette), filtered adaptively.
    static func encode(_ image: Image, name: String) throws -> [UInt8] {
        guard let ctx = spng_ctx_new(Int32(SPNG_CTX_ENCODER.rawValue)) else {
            throw ImageError(kind: .unwritable, file: name, detail: "PNG: libspng could not create an encoder")
        }
        defer { spng_ctx_free(ctx) }
        guard image.width <= Int(Int32.max) && image.height <= Int(Int32.max) else {
            throw ImageError(kind: .unwritable, file: name,
                             detail: "PNG: \(image.width)x\(image.height) is too large for PNG")
        }
        let colorType: UInt8
        switch image.format {
        case .gray: colorType = grayscale
        case .grayAlpha: colorType = grayscaleAlpha
        case .rgb: colorType = truecolor
        case .rgba: colorType = truecolorAlpha
        }
        try check(spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1), name, writing: true)
        var ihdr = spng_ihdr(width: UInt32(image.width), height: UInt32(image.height), bit_depth: UInt8(image.bitDepth),
                             color_type: colorType, compression_method: 0, filter_method: 0, interlace_method: 0)
        try check(spng_set_ihdr(ctx, &ihdr), name, writing: true)
        let fmt = Int32(SPNG_FMT_PNG.rawValue), finalize = Int32(SPNG_ENCODE_FINALIZE.rawValue)
        let status: Int32
        switch image.pixels {
        case .eight(let samples):
            status = samples.withUnsafeBytes { spng_encode_image(ctx, $0.baseAddress, $0.count, fmt, finalize) }
        case .sixteen(let samples):
            status = samples.withUnsafeBytes { spng_encode_image(ctx, $0.baseAddress, $0.count, fmt, finalize) }
        }
        try check(status, name, writing: true)
        var length = 0
        var error: Int32 = 0
        guard let buffer = spng_get_png_buffer(ctx, &length, &error) else {
            try check(error == 0 ? Int32(SPNG_EINTERNAL.rawValue) : error, name, writing: true)
            return []
        }
        defer { free(buffer) }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    /// Throws the `ImageError` for a libspng status other than 0.
    private static func check(_ status: Int32, _ name: String, writing: Bool = false) throws {
        guard status != 0 else { return }
        let message = String(cString: spng_strerror(status))
        if writing { throw ImageError(kind: .unwritable, file: name, detail: "PNG: \(message)") }
        let kind: ImageError.Kind
        switch status {
        case Int32(SPNG_IO_EOF.rawValue):
            kind = .truncated
        case Int32(SPNG_EUSER_WIDTH.rawValue), Int32(SPNG_EUSER_HEIGHT.rawValue),
             Int32(SPNG_ECHUNK_LIMITS.rawValue), Int32(SPNG_EMEM.rawValue), Int32(SPNG_EOVERFLOW.rawValue):
            kind = .tooLarge
        case Int32(SPNG_ECHUNK_UNKNOWN_CRITICAL.rawValue):
            kind = .unsupported
        default:
            kind = .corrupt
        }
        let detail = kind == .truncated ? "the file ends before its image does (libspng: \(message))" : message
        throw ImageError(kind: kind, file: name, detail: "PNG: \(detail)")
    }

    /// The size from IHDR and the orientation from the first eXIf chunk (1 without one), found
    /// by walking the chunk lengths; no checksum is verified and nothing is inflated.
    static func header(_ bytes: UnsafeBufferPointer<UInt8>, name: String,
                       readOrientation: Bool) throws -> (width: Int, height: Int, orientation: Int) {
        guard bytes.count >= 33 else {
            throw ImageError(kind: .truncated, file: name, detail: "PNG: the file ends inside its header")
        }
        guard bigEndian32(bytes, 8) == 13, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageError(kind: .corrupt, file: name, detail: "PNG: the first chunk is not a 13-byte IHDR")
        }
        let width = Int(bigEndian32(bytes, 16)), height = Int(bigEndian32(bytes, 20))
        guard width > 0 && height > 0 else {
            throw ImageError(kind: .corrupt, file: name, detail: "PNG: IHDR declares \(width)x\(height) pixels")
        }
        var orientation = 1
        var position = 33
        while readOrientation && position + 8 <= bytes.count {
            let length = Int(bigEndian32(bytes, position))
            let type = Array(bytes[(position + 4)..<(position + 8)])
            let end = position + 12 + length
            guard end <= bytes.count, type != Array("IEND".utf8) else { break }
            if type == Array("eXIf".utf8) {
                let block = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[(position + 8)..<(end - 4)]))
                orientation = EXIFOrientation.orientation(inEXIF: block) ?? 1
                break
            }
            position = end
        }
        return (width, height, orientation)
    }

    /// Whether the chunk list, walked from the signature, reaches a whole IEND chunk.
    private static func hasCompleteEnd(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var position = 8
        while position + 8 <= bytes.count {
            let length = Int(bigEndian32(bytes, position))
            let end = position + 12 + length
            guard end <= bytes.count else { return false }
            if Array(bytes[(position + 4)..<(position + 8)]) == Array("IEND".utf8) { return true }
            position = end
        }
        return false
    }

    private static func bigEndian32(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}
