#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// An unsigned-byte IDX file (the MNIST format): big-endian dimensions and a flat payload.
///
/// Layout: two zero bytes, the type byte (0x08 for unsigned bytes), the number of dimensions,
/// one big-endian `UInt32` per dimension, then the row-major payload.
public struct IDXFile: Equatable, Sendable {
    /// The type byte of unsigned 8-bit data, the only type supported.
    public static let unsignedByteType: UInt8 = 0x08

    /// The dimensions, outermost first (for example `[60000, 28, 28]`).
    public var dimensions: [Int]
    /// The payload, `dimensions.product` bytes.
    public var bytes: [UInt8]

    /// Creates a file from dimensions and a payload of matching size.
    public init(dimensions: [Int], bytes: [UInt8]) {
        precondition(!dimensions.isEmpty && dimensions.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) }
                     && dimensions.reduce(1, *) == bytes.count,
                     "IDXFile: \(bytes.count) bytes do not fill dimensions \(dimensions)")
        self.dimensions = dimensions
        self.bytes = bytes
    }

    /// Reads an IDX file, gzip-compressed (`.gz`) or raw.
    /// - Throws: `DatasetError` naming the file when it is missing, damaged or not ubyte IDX.
    public static func read(contentsOf path: String) throws -> IDXFile {
        var info = stat()
        if stat(path, &info) != 0 {
            throw DatasetError(kind: .unreadable, file: path, detail: String(cString: strerror(errno)))
        }
        guard let gz = gzopen(path, "rb") else {
            throw DatasetError(kind: .unreadable, file: path, detail: String(cString: strerror(errno)))
        }
        defer { gzclose(gz) }
        gzbuffer(gz, 1 << 18)
        let fileSize = Int(info.st_size)
        let limit = { (headerSize: Int) -> Int in
            // gzdirect is 1 once zlib has seen the file is not gzip-compressed.
            gzdirect(gz) == 1 ? fileSize - headerSize : (fileSize > Int.max / 1100 ? Int.max : fileSize * 1100)
        }
        return try parse(name: path, payloadLimit: limit) { pointer, count in
            let n = gzread(gz, pointer, UInt32(count))
            var code: Int32 = 0
            let message = gzerror(gz, &code).map { String(cString: $0) } ?? ""
            if n < 0 || (code != Z_OK && code != Z_BUF_ERROR) {
                throw DatasetError(kind: .unreadable, file: path, detail: "decompression failed (\(message))")
            }
            return Int(n)
        }
    }

    /// Parses IDX bytes held in memory (uncompressed).
    /// - Parameters:
    ///   - data: The complete file contents.
    ///   - name: The name used in error messages.
    public init(parsing data: [UInt8], name: String = "<memory>") throws {
        var position = 0
        self = try IDXFile.parse(name: name, payloadLimit: { data.count - $0 }) { pointer, count in
            let n = min(count, data.count - position)
            data.withUnsafeBytes { raw in
                if n > 0, let base = raw.baseAddress {
                    pointer.copyMemory(from: base + position, byteCount: n)
                }
            }
            position += n
            return n
        }
    }

    /// The file's bytes in IDX layout (uncompressed).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [0, 0, IDXFile.unsignedByteType, UInt8(dimensions.count)]
        for dim in dimensions {
            let value = UInt32(dim)
            out += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        return out + bytes
    }

    /// Reads up to `count` bytes into the pointer; returns how many were read (0 at the end).
    private typealias Reader = (UnsafeMutableRawPointer, Int) throws -> Int

    private static func readFully(_ reader: Reader, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let pointer = buffer.baseAddress else { return 0 }
        let count = buffer.count
        var total = 0
        while total < count {
            let n = try reader(pointer + total, count - total)
            if n <= 0 { break }
            total += n
        }
        return total
    }

    /// Parses from `reader`; `payloadLimit` maps the header size to the most payload the
    /// source can hold.
    private static func parse(name: String, payloadLimit: (Int) -> Int, _ reader: Reader) throws -> IDXFile {
        var magic = [UInt8](repeating: 0, count: 4)
        let got = try magic.withUnsafeMutableBytes { try readFully(reader, into: $0) }
        if got < 4 {
            throw DatasetError(kind: .truncated, file: name, detail: "file has \(got) bytes, fewer than the 4-byte magic")
        }
        if magic[0] != 0 || magic[1] != 0 {
            throw DatasetError(kind: .badMagic, file: name,
                               detail: "magic starts with \(magic[0]), \(magic[1]) instead of 0, 0")
        }
        if magic[2] != unsignedByteType {
            throw DatasetError(kind: .unsupportedType, file: name,
                               detail: "type byte 0x\(String(magic[2], radix: 16)) is not 0x08 (unsigned byte)")
        }
        let rank = Int(magic[3])
        if rank == 0 {
            throw DatasetError(kind: .invalidDimensions, file: name, detail: "declares 0 dimensions")
        }
        var dimensionBytes = [UInt8](repeating: 0, count: 4 * rank)
        let gotDims = try dimensionBytes.withUnsafeMutableBytes { try readFully(reader, into: $0) }
        if gotDims < 4 * rank {
            throw DatasetError(kind: .truncated, file: name, detail: "file ends inside its \(rank) dimensions")
        }
        var dimensions: [Int] = []
        var payloadCount = 1
        for d in 0..<rank {
            let b = dimensionBytes[(4 * d)..<(4 * d + 4)].map { Int($0) }
            let dim = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
            dimensions.append(dim)
            let (product, overflow) = payloadCount.multipliedReportingOverflow(by: dim)
            if overflow {
                throw DatasetError(kind: .invalidDimensions, file: name, detail: "dimensions \(dimensions) overflow")
            }
            payloadCount = product
        }
        // A lying header must not force a huge allocation: deflate expands at most ~1032x,
        // and an uncompressed file holds exactly its payload.
        if payloadCount > payloadLimit(4 + 4 * rank) {
            throw DatasetError(kind: .truncated, file: name,
                               detail: "dimensions \(dimensions) need \(payloadCount) payload bytes, "
                                   + "more than the file can hold")
        }
        var gotPayload = 0
        let payload = try [UInt8](unsafeUninitializedCapacity: payloadCount) { buffer, initialized in
            gotPayload = try readFully(reader, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = gotPayload
        }
        if gotPayload < payloadCount {
            throw DatasetError(kind: .truncated, file: name,
                               detail: "dimensions \(dimensions) need \(payloadCount) payload bytes, found \(gotPayload)")
        }
        var extra: [UInt8] = [0]
        if try extra.withUnsafeMutableBytes({ try readFully(reader, into: $0) }) > 0 {
            throw DatasetError(kind: .trailingData, file: name,
                               detail: "has bytes after the \(payloadCount)-byte payload of dimensions \(dimensions)")
        }
        return IDXFile(dimensions: dimensions, bytes: payload)
    }
}
