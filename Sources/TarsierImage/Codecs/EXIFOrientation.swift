/// The EXIF orientation tag (0x0112) and the transposition that shows the picture upright,
/// as Pillow's `ImageOps.exif_transpose` applies it.
enum EXIFOrientation {
    /// The orientation (1...8) stored in IFD0 of an EXIF block, or nil when there is none or
    /// the block is malformed. `exif` is the APP1 payload (`Exif\0\0` then a TIFF header) or a
    /// bare TIFF header, as PNG's eXIf chunk holds it. Every read is bounds-checked.
    static func orientation(inEXIF exif: UnsafeRawBufferPointer) -> Int? {
        var tiff = exif
        let prefix: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]  // "Exif\0\0"
        if tiff.count >= 6 && prefix.indices.allSatisfy({ tiff[$0] == prefix[$0] }) {
            tiff = UnsafeRawBufferPointer(rebasing: tiff[6...])
        }
        guard tiff.count >= 8 else { return nil }
        let bigEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): bigEndian = false
        case (0x4D, 0x4D): bigEndian = true
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            let a = Int(tiff[at]), b = Int(tiff[at + 1])
            return bigEndian ? a << 8 | b : b << 8 | a
        }
        func u32(_ at: Int) -> Int? {
            guard let high = u16(bigEndian ? at : at + 2), let low = u16(bigEndian ? at + 2 : at) else { return nil }
            return high << 16 | low
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for entry in 0..<entries {
            let at = ifd + 2 + 12 * entry
            guard let tag = u16(at) else { return nil }
            if tag != 0x0112 { continue }
            // Pillow reads a single SHORT or LONG; a list of values is no orientation.
            guard let type = u16(at + 2), let count = u32(at + 4), count == 1 else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(at + 8)
            case 4: value = u32(at + 8)
            default: value = nil
            }
            guard let value, (1...8).contains(value) else { return nil }
            return value
        }
        return nil
    }

    /// How the upright picture's axes lie in the stored one: whether upright x runs along stored
    /// y (5 to 8), and whether upright x and y run against the stored axis they come from.
    static func axes(_ orientation: Int) -> (swap: Bool, reverseX: Bool, reverseY: Bool) {
        switch orientation {
        case 2: return (false, true, false)
        case 3: return (false, true, true)
        case 4: return (false, false, true)
        case 5: return (true, false, false)
        case 6: return (true, true, false)
        case 7: return (true, true, true)
        case 8: return (true, false, true)
        default: return (false, false, false)
        }
    }

    /// Whether `orientation` swaps width and height (5 to 8 turn the picture by a quarter).
    static func swapsAxes(_ orientation: Int) -> Bool { orientation >= 5 && orientation <= 8 }

    /// `pixels` (row-major, `channels` interleaved samples per pixel) turned upright:
    /// 2 mirrors left-right, 3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns
    /// clockwise, 7 transverses, 8 turns counter-clockwise. Returns the new size too.
    static func apply<Sample>(_ orientation: Int, to pixels: [Sample], width: Int, height: Int,
                              channels: Int) -> (pixels: [Sample], width: Int, height: Int) {
        guard orientation >= 2 && orientation <= 8 else { return (pixels, width, height) }
        let (outWidth, outHeight) = swapsAxes(orientation) ? (height, width) : (width, height)
        let out = [Sample](unsafeUninitializedCapacity: pixels.count) { dst, initialized in
            pixels.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                // A literal channel count per call lets the compiler unroll the pixel copy.
                switch channels {
                case 1: transpose(s, d, width: width, height: height, channels: 1, orientation: orientation)
                case 2: transpose(s, d, width: width, height: height, channels: 2, orientation: orientation)
                case 3: transpose(s, d, width: width, height: height, channels: 3, orientation: orientation)
                default: transpose(s, d, width: width, height: height, channels: 4, orientation: orientation)
                }
            }
            initialized = pixels.count
        }
        return (out, outWidth, outHeight)
    }

    @inline(__always)
    private static func transpose<Sample>(_ src: UnsafePointer<Sample>, _ dst: UnsafeMutablePointer<Sample>,
                                          width: Int, height: Int, channels: Int, orientation: Int) {
        let rowLength = width * channels
        if orientation <= 4 {
            // Rows keep their length: walk each destination row over one source row.
            let flipRows = orientation == 3 || orientation == 4
            let mirror = orientation == 2 || orientation == 3
            for y in 0..<height {
                let source = src + (flipRows ? height - 1 - y : y) * rowLength
                let target = dst + y * rowLength
                if !mirror {
                    target.initialize(from: source, count: rowLength)
                    continue
                }
                var s = source + rowLength - channels
                for x in 0..<width {
                    for c in 0..<channels { (target + x * channels + c).initialize(to: s[c]) }
                    s -= channels
                }
            }
            return
        }
        // Destination row y is source column sx, read downwards (5, 8) or upwards (6, 7).
        let downwards = orientation == 5 || orientation == 8
        let step = downwards ? rowLength : -rowLength
        var target = dst
        for y in 0..<width {
            let sx = orientation == 5 || orientation == 6 ? y : width - 1 - y
            var s = src + (downwards ? 0 : (height - 1) * rowLength) + sx * channels
            for _ in 0..<height {
                for c in 0..<channels { (target + c).initialize(to: s[c]) }
                target += channels
                s += step
            }
        }
    }
}
