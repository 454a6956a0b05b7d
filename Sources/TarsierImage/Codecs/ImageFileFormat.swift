/// The file formats `ImageCodec` reads and writes, told apart by their first bytes.
public enum ImageFileFormat: String, Sendable, CaseIterable {
    /// JPEG (JFIF or EXIF), baseline, extended or progressive.
    case jpeg
    /// PNG, any colour type and bit depth, interlaced or not.
    case png

    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The format whose signature `bytes` starts with, or nil. The file name is not consulted:
    /// a PNG saved as `.jpg` is still a PNG.
    public static func detect(_ bytes: UnsafeBufferPointer<UInt8>) -> ImageFileFormat? {
        if startsWith(bytes, jpegSignature) { return .jpeg }
        if startsWith(bytes, pngSignature) { return .png }
        return nil
    }

    /// The format whose signature `bytes` starts with, or nil.
    public static func detect(_ bytes: [UInt8]) -> ImageFileFormat? {
        bytes.withUnsafeBufferPointer { detect($0) }
    }

    /// The format a file name's extension asks for when writing (`.png`, `.jpg`, `.jpeg`, any
    /// case), or nil.
    public init?(pathExtensionOf path: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }

    /// Whether `bytes` is a proper prefix of a supported signature: the file was cut short
    /// rather than being something else.
    static func isSignaturePrefix(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        [jpegSignature, pngSignature].contains { signature in
            bytes.count < signature.count && zip(bytes, signature).allSatisfy { $0 == $1 }
        }
    }

    /// A name for well-known formats this codec does not read, so the error can say what the
    /// file is.
    static func unsupportedFormatName(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        func matches(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + signature.count
                && signature.indices.allSatisfy { bytes[offset + $0] == signature[$0] }
        }
        if matches(Array("GIF8".utf8)) { return "GIF" }
        if matches(Array("BM".utf8)) { return "BMP" }
        if matches(Array("RIFF".utf8)) && matches(Array("WEBP".utf8), at: 8) { return "WebP" }
        if matches([0x49, 0x49, 0x2A, 0x00]) || matches([0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if matches(Array("ftyp".utf8), at: 4) { return "HEIF/AVIF" }
        if matches([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || matches([0xFF, 0x4F, 0xFF, 0x51]) {
            return "JPEG 2000"
        }
        return nil
    }

    private static func startsWith(_ bytes: UnsafeBufferPointer<UInt8>, _ signature: [UInt8]) -> Bool {
        bytes.count >= signature.count && signature.indices.allSatisfy { bytes[$0] == signature[$0] }
    }
}
