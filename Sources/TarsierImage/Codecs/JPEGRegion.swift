import CTarsierJPEG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A rectangle of a stored (not yet upright) JPEG at a DCT scale, in scaled pixels.
struct JPEGWindow {
    var left: Int
    var top: Int
    var width: Int
    var height: Int

    /// `ReducedImage.left` and `.top` for this window once turned upright: where the full
    /// picture's origin lands, in the window's pixels. An upright axis that runs against its
    /// stored axis starts at the far end of the scaled image, whose length is rounded up from
    /// `length * scale`, so it is shifted by the rounding.
    func uprightOrigin(orientation: Int, stored: ImageSize, scaled: ImageSize, scale: Double)
        -> (left: Double, top: Double) {
        let axes = EXIFOrientation.axes(orientation)
        typealias Span = (start: Int, end: Int, length: Int, scaledLength: Int)
        let horizontal: Span = (left, left + width, stored.width, scaled.width)
        let vertical: Span = (top, top + height, stored.height, scaled.height)
        func origin(_ span: Span, reversed: Bool) -> Double {
            guard reversed else { return Double(span.start) }
            return Double(span.scaledLength - span.end) - (Double(span.scaledLength) - Double(span.length) * scale)
        }
        return (origin(axes.swap ? vertical : horizontal, reversed: axes.reverseX),
                origin(axes.swap ? horizontal : vertical, reversed: axes.reverseY))
    }

    /// The stored-orientation box that `box` of the upright picture comes from.
    static func storedBox(_ box: CropBox, orientation: Int, stored: ImageSize) -> CropBox {
        let axes = EXIFOrientation.axes(orientation)
        func start(_ start: Int, _ length: Int, total: Int, reversed: Bool) -> Int {
            reversed ? total - (start + length) : start
        }
        if axes.swap {
            // Upright x runs along stored y, upright y along stored x.
            return CropBox(top: start(box.left, box.width, total: stored.height, reversed: axes.reverseX),
                           left: start(box.top, box.height, total: stored.width, reversed: axes.reverseY),
                           height: box.width, width: box.height)
        }
        return CropBox(top: start(box.top, box.height, total: stored.height, reversed: axes.reverseY),
                       left: start(box.left, box.width, total: stored.width, reversed: axes.reverseX),
                       height: box.height, width: box.width)
    }
}

extension JPEGCodec {
    /// Decodes the part of the picture around `region` (upright, full-size pixels) at the smallest
    /// factor that is at least `minimumScale`, through libjpeg directly: columns outside it
    /// are not transformed (libjpeg widens them to whole blocks), rows above it are only
    /// entropy-decoded and rows below it are not read. Files that do not end with an end-of-image
    /// marker take the whole-image path, so a cut-off file fails as `decode` fails on it.
    static func decodeRegion(_ bytes: UnsafeBufferPointer<UInt8>, name: String, as target: PixelFormat?,
                             limits: DecodeLimits, minimumScale: Double, region: CropBox,
                             applyOrientation: Bool) throws -> ReducedImage {
        func failure(_ kind: ImageError.Kind, _ detail: String) -> ImageError {
            ImageError(kind: kind, file: name, detail: "JPEG: \(detail)")
        }
        let (header, orientation) = try validatedHeader(bytes, name: name, limits: limits,
                                                        applyOrientation: applyOrientation)
        let upright = EXIFOrientation.swapsAxes(orientation) ? ImageSize(width: header.height, height: header.width)
                                                             : ImageSize(width: header.width, height: header.height)
        let left = max(region.left, 0), top = max(region.top, 0)
        let right = min(region.left + region.width, upright.width), bottom = min(region.top + region.height, upright.height)
        guard right > left, bottom > top,
              bytes.count >= 4, bytes[bytes.count - 2] == 0xFF, bytes[bytes.count - 1] == 0xD9 else {
            return try decodeReduced(bytes, name: name, as: target, limits: limits, minimumScale: minimumScale,
                                     applyOrientation: applyOrientation)
        }
        let factor = reducingFactors.last { Double($0.num) / Double($0.denom) >= minimumScale } ?? (1, 1)
        let stored = ImageSize(width: header.width, height: header.height)
        let scaledSize = ImageSize(width: scaled(stored.width, factor), height: scaled(stored.height, factor))
        let clipped = CropBox(top: top, left: left, height: bottom - top, width: right - left)
        let box = JPEGWindow.storedBox(clipped, orientation: orientation, stored: stored)
        // The whole scaled pixels the box touches, and two columns more on each side: libjpeg
        // upsamples chroma at a cropped window's edge columns without their outer neighbours
        // (and a window of one chroma column differently again). With this margin the box's
        // pixels equal a whole decode's, checked on 4:2:0, 4:2:2 and 4:4:0 files at every factor.
        let x0 = max(box.left * factor.num / factor.denom - 2, 0), y0 = box.top * factor.num / factor.denom
        let x1 = min(scaled(box.left + box.width, factor) + 2, scaledSize.width)
        let y1 = min(scaled(box.top + box.height, factor), scaledSize.height)
        let band = restartBand(bytes, header: header, firstScaledRow: y0, factor: factor)
        let skipped = (band?.skippedRows ?? 0) * factor.num / factor.denom  // scaled rows not in the band

        guard let decoder = tarsier_jpeg_create() else { throw failure(.unsupported, "libjpeg could not start") }
        defer { tarsier_jpeg_destroy(decoder) }
        func libjpegError() -> ImageError { classify(String(cString: tarsier_jpeg_message(decoder)), name: name) }

        var width: Int32 = 0, height: Int32 = 0, sourceCode: Int32 = 0
        let status: Int32
        if let band {
            let entropy = UnsafeBufferPointer(rebasing: bytes[band.entropyStart...])
            status = band.head.withUnsafeBufferPointer { head in
                tarsier_jpeg_read_header(decoder, head.baseAddress, head.count, entropy.baseAddress, entropy.count,
                                         Int32(band.restartOffset), &width, &height, &sourceCode)
            }
        } else {
            status = tarsier_jpeg_read_header(decoder, bytes.baseAddress, bytes.count, nil, 0, 0,
                                              &width, &height, &sourceCode)
        }
        guard status == 0 else { throw libjpegError() }
        guard Int(width) == stored.width, Int(height) == stored.height - (band?.skippedRows ?? 0) else {
            throw failure(.corrupt, "libjpeg reads a \(width)x\(height) frame, the header declares \(stored)")
        }
        let source: Source
        switch sourceCode {
        case Int32(TARSIER_JPEG_SOURCE_GRAY): source = .gray
        case Int32(TARSIER_JPEG_SOURCE_COLOR): source = .color
        case Int32(TARSIER_JPEG_SOURCE_CMYK): source = .cmyk
        default: throw failure(.unsupported, "unknown colour space")
        }
        // The layouts of the whole-image path, so both give the same pixels.
        let layout: Int, decoded: PixelFormat
        switch (source, target) {
        case (.cmyk, _): (layout, decoded) = (TARSIER_JPEG_CMYK, .rgb)
        case (_, .rgba?): (layout, decoded) = (TARSIER_JPEG_RGBA, .rgba)
        case (.gray, .rgb?): (layout, decoded) = (TARSIER_JPEG_RGB, .rgb)
        case (.gray, _): (layout, decoded) = (TARSIER_JPEG_GRAY, .gray)
        case (.color, _): (layout, decoded) = (TARSIER_JPEG_RGB, .rgb)
        }

        var window = tarsier_jpeg_window()
        guard tarsier_jpeg_start(decoder, Int32(factor.num), Int32(factor.denom), Int32(layout), Int32(x0),
                                 Int32(x1 - x0), 500, &window) == 0 else { throw libjpegError() }
        guard Int(window.scaled_width) == scaledSize.width, Int(window.scaled_height) == scaledSize.height - skipped,
              window.left >= 0, window.width > 0, Int(window.left + window.width) <= scaledSize.width else {
            throw failure(.corrupt, "libjpeg decodes a \(window.scaled_width)x\(window.scaled_height) image, "
                          + "expected \(scaledSize) less \(skipped) rows")
        }
        let rows = y1 - y0, rowBytes = Int(window.width) * Int(window.pixel_size)
        var samples = try [UInt8](unsafeUninitializedCapacity: rows * rowBytes) { buffer, initialized in
            guard tarsier_jpeg_read(decoder, Int32(y0 - skipped), Int32(rows), buffer.baseAddress, rowBytes) == 0 else {
                throw libjpegError()
            }
            initialized = rows * rowBytes
        }
        // As on the whole-image path: libjpeg pads a cut-off file with grey and warns.
        if tarsier_jpeg_warnings(decoder) > 0 {
            let message = String(cString: tarsier_jpeg_message(decoder))
            if message.contains("Premature end of JPEG file") {
                throw failure(.truncated, "the file ends before its image data does (\(message))")
            }
        }
        if source == .cmyk { samples = cmykToRGB(samples, pixels: rows * Int(window.width)) }
        let image = JPEGCodec.upright(samples, width: Int(window.width), height: rows, format: decoded,
                            orientation: orientation, target: target)
        let scale = Double(factor.num) / Double(factor.denom)
        let decodedWindow = JPEGWindow(left: Int(window.left), top: y0, width: Int(window.width), height: rows)
        let origin = decodedWindow.uprightOrigin(orientation: orientation, stored: stored, scaled: scaledSize,
                                                 scale: scale)
        return ReducedImage(image: image, scale: scale, left: origin.left, top: origin.top)
    }

    /// The part of a file with restart markers from the last restart interval that starts an MCU
    /// row at least one MCU row above `firstScaledRow` (the upsampling context of the first row
    /// needed): a copy of the headers declaring the smaller height, and where that interval's
    /// entropy-coded data begins. libjpeg then never reads the rows above, which
    /// `jpeg_skip_scanlines` would still entropy-decode. `firstScaledRow` is a row of the image at
    /// `factor`. Nil when it saves nothing, or the file is not one sequential Huffman scan of all
    /// components with its restart markers in order.
    static func restartBand(_ bytes: UnsafeBufferPointer<UInt8>, header: JPEGHeader, firstScaledRow: Int,
                            factor: (num: Int, denom: Int))
        -> (head: [UInt8], entropyStart: Int, skippedRows: Int, restartOffset: Int)? {
        let interval = header.restartInterval
        guard interval > 0, let entropy = header.entropyOffset, header.frameMarker == 0xC0 || header.frameMarker == 0xC1,
              header.scanComponents == header.components, let base = bytes.baseAddress else { return nil }
        // A scan of one component has 8x8 MCUs whatever its sampling factors say.
        let single = header.components == 1
        let mcuWidth = single ? 8 : 8 * header.maxSampling.horizontal
        let mcuHeight = single ? 8 : 8 * header.maxSampling.vertical
        let columns = (header.width + mcuWidth - 1) / mcuWidth
        let firstRow = firstScaledRow / (mcuHeight * factor.num / factor.denom)
        guard firstRow >= 2 else { return nil }
        var index = (firstRow - 1) * columns / interval
        while index > 0 && (index * interval) % columns != 0 { index -= 1 }
        guard index > 0 else { return nil }
        // Interval `index` starts after the index-th restart marker.
        var position = entropy, seen = 0
        while seen < index {
            guard position < bytes.count,
                  let found = memchr(base + position, 0xFF, bytes.count - position) else { return nil }
            let at = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            guard at + 1 < bytes.count else { return nil }
            let marker = bytes[at + 1]
            if marker == 0x00 || marker == 0xFF {
                position = at + 1  // a stuffed byte, or fill before a marker
                continue
            }
            guard marker == 0xD0 + UInt8(seen % 8) else { return nil }
            seen += 1
            position = at + 2
        }
        let skippedRows = index * interval / columns * mcuHeight
        var head = Array(bytes[..<entropy])
        let height = header.height - skippedRows
        head[header.frameOffset + 1] = UInt8(height >> 8)
        head[header.frameOffset + 2] = UInt8(height & 0xFF)
        return (head, position, skippedRows, index % 8)
    }
}
