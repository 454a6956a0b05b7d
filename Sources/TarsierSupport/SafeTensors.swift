#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An element type of the safetensors format, spelled as in the file header.
public enum SafeTensorsDType: String, CaseIterable, Codable, Sendable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// The reference writer's dtype order (its enum order); higher ranks are written first.
    var sortRank: Int { SafeTensorsDType.allCases.firstIndex(of: self) ?? 0 }
}

/// One tensor of a safetensors file: element type, shape and little-endian raw bytes.
public struct SafeTensorsEntry: Equatable, Sendable {
    /// The element type.
    public var dtype: SafeTensorsDType
    /// The shape; an empty shape is a scalar.
    public var shape: [Int]
    /// The raw little-endian bytes, `shape.product * dtype.byteSize` of them.
    public var data: [UInt8]

    /// Creates an entry from raw bytes; `SafeTensors.encode` checks that the sizes agree.
    public init(dtype: SafeTensorsDType, shape: [Int], data: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// Creates an `F32` entry from `values` laid out row-major in `shape`.
    public init(floats values: [Float], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "SafeTensorsEntry: \(values.count) values do not fill shape \(shape)")
        self.init(dtype: .f32, shape: shape, data: littleEndianBytes(values.map { $0.bitPattern }))
    }

    /// Creates an `I64` entry from `values` laid out row-major in `shape`.
    public init(int64s values: [Int64], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "SafeTensorsEntry: \(values.count) values do not fill shape \(shape)")
        self.init(dtype: .i64, shape: shape, data: littleEndianBytes(values.map { UInt64(bitPattern: $0) }))
    }

    /// The number of elements the shape holds.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The values converted to `Float`; `F32`, `F64`, `F16` and `BF16` are supported.
    /// - Throws: `SafeTensorsError` of kind `.unsupportedConversion` for other types, or
    ///   `.sizeMismatch` when `data` does not match the shape.
    public func floats() throws -> [Float] {
        try checkSize()
        switch dtype {
        case .f32: return nativeCopy(Float.self) ?? decode(UInt32.self) { Float(bitPattern: $0) }
        case .f64: return decode(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .f16: return decode(UInt16.self) { floatFromHalf($0) }
        case .bf16: return decode(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        default:
            throw SafeTensorsError(kind: .unsupportedConversion, file: "<memory>", key: nil,
                                   detail: "cannot convert \(dtype.rawValue) to Float; "
                                       + "only F32, F64, F16 and BF16 convert")
        }
    }

    /// The values converted to `Double`; `F64`, `F32`, `F16` and `BF16` are supported.
    public func doubles() throws -> [Double] {
        if dtype == .f64 {
            try checkSize()
            return nativeCopy(Double.self) ?? decode(UInt64.self) { Double(bitPattern: $0) }
        }
        return try floats().map(Double.init)
    }

    /// The values converted to `Int64`; integer and `BOOL` types are supported.
    public func integers() throws -> [Int64] {
        try checkSize()
        switch dtype {
        case .bool, .u8: return decode(UInt8.self) { Int64($0) }
        case .i8: return decode(UInt8.self) { Int64(Int8(bitPattern: $0)) }
        case .i16: return decode(UInt16.self) { Int64(Int16(bitPattern: $0)) }
        case .u16: return decode(UInt16.self) { Int64($0) }
        case .i32: return decode(UInt32.self) { Int64(Int32(bitPattern: $0)) }
        case .u32: return decode(UInt32.self) { Int64($0) }
        case .i64: return decode(UInt64.self) { Int64(bitPattern: $0) }
        default:
            throw SafeTensorsError(kind: .unsupportedConversion, file: "<memory>", key: nil,
                                   detail: "cannot convert \(dtype.rawValue) to Int64; "
                                       + "only integer and BOOL types convert")
        }
    }

    private func checkSize() throws {
        let expected = SafeTensors.byteCount(shape: shape, dtype: dtype)
        if expected != data.count {
            throw SafeTensorsError(kind: .sizeMismatch, file: "<memory>", key: nil,
                                   detail: "shape \(shape) of \(dtype.rawValue) needs "
                                       + "\(expected.map(String.init) ?? "too many") bytes, "
                                       + "data has \(data.count)")
        }
    }

    /// The bytes copied as they are into `[T]` on a little-endian host (nil on a big-endian one).
    /// Much faster than `decode` in debug builds, where its per-element generic calls made loading
    /// a 100M-parameter model take tens of seconds.
    private func nativeCopy<T>(_: T.Type) -> [T]? {
        #if _endian(little)
        let count = data.count / MemoryLayout<T>.size
        return [T](unsafeUninitializedCapacity: count) { out, initialized in
            data.withUnsafeBytes { raw in
                if let base = out.baseAddress, let source = raw.baseAddress {
                    UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: count * MemoryLayout<T>.size)
                }
            }
            initialized = count
        }
        #else
        return nil
        #endif
    }

    private func decode<Word: FixedWidthInteger, T>(_: Word.Type, _ convert: (Word) -> T) -> [T] {
        let count = data.count / MemoryLayout<Word>.size
        return data.withUnsafeBytes { raw in
            [T](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    let word = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Word>.size, as: Word.self)
                    out.initializeElement(at: i, to: convert(Word(littleEndian: word)))
                }
                initialized = count
            }
        }
    }
}

/// An error raised while reading, validating or encoding safetensors data.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable
        /// The file ends before its header or data does.
        case truncated
        /// The declared header length exceeds the 100,000,000-byte limit.
        case headerTooLarge
        /// The header is not UTF-8 JSON of the expected form.
        case invalidHeader
        /// A tensor names an element type this reader does not know.
        case unknownDType
        /// A tensor's shape has a negative dimension.
        case invalidShape
        /// A tensor's shape times its element size overflows.
        case shapeOverflow
        /// A tensor's byte range does not match its shape and element type.
        case sizeMismatch
        /// `data_offsets` is not a pair `[begin, end]` with `begin <= end`.
        case invalidOffsets
        /// A tensor's byte range extends past the end of the data buffer.
        case offsetOutOfBounds
        /// Two tensors' byte ranges overlap.
        case overlappingOffsets
        /// Bytes between two tensors (or before the first) belong to no tensor.
        case gapInOffsets
        /// The data buffer has trailing bytes that belong to no tensor.
        case incompleteCoverage
        /// An entry given to the encoder is inconsistent.
        case invalidEntry
        /// The requested element conversion is not supported for this dtype.
        case unsupportedConversion
        /// A requested tensor is not in the file.
        case missingTensor
    }

    /// What went wrong.
    public var kind: Kind
    /// The file at fault, or `<memory>` for in-memory data.
    public var file: String
    /// The tensor at fault, when one is.
    public var key: String?
    /// The specifics: offsets, sizes, shapes.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, file: String, key: String?, detail: String) {
        self.kind = kind
        self.file = file
        self.key = key
        self.detail = detail
    }

    /// A message naming the file, the tensor and what to do.
    public var description: String {
        var text = "safetensors '\(file)'"
        if let key { text += ", tensor '\(key)'" }
        text += ": \(detail). "
        switch kind {
        case .unreadable:
            text += "Check the path and its permissions."
        case .invalidEntry, .unsupportedConversion, .missingTensor:
            text += "Check the tensor names, dtypes and shapes the caller expects."
        default:
            text += "The file is damaged or was not written by a safetensors writer; "
                + "re-export or re-download it."
        }
        return text
    }
}

/// Reading and writing the safetensors format.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
/// name to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional
/// `"__metadata__"` string map), then the data buffer. Every offset, size and dtype is
/// validated before any tensor data is read or allocated.
public enum SafeTensors {
    /// The largest header accepted, as in the reference implementation.
    public static let maximumHeaderLength = 100_000_000

    /// Reads and validates a safetensors file.
    /// - Parameter path: The file to read.
    /// - Returns: The tensors by name and the `__metadata__` map (empty when absent).
    /// - Throws: `SafeTensorsError` naming the file and tensor at fault.
    public static func read(contentsOf path: String) throws
        -> (tensors: [String: SafeTensorsEntry], metadata: [String: String]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw SafeTensorsError(kind: .unreadable, file: path, key: nil,
                                   detail: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
            throw SafeTensorsError(kind: .unreadable, file: path, key: nil, detail: "not a regular file")
        }
        let source = FileSource(fd: fd, size: Int(info.st_size), path: path)
        return try parse(source)
    }

    /// Parses and validates safetensors data held in memory.
    /// - Parameters:
    ///   - bytes: The complete file contents.
    ///   - name: The name used in error messages.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws
        -> (tensors: [String: SafeTensorsEntry], metadata: [String: String]) {
        try parse(MemorySource(bytes: bytes, path: name))
    }

    /// Serialises tensors to the safetensors format.
    ///
    /// Tensors are ordered as the reference (Rust/Python) writer orders them, wider dtypes
    /// first and then by name, so every tensor stays aligned; the header lists them in that
    /// order, metadata keys are sorted, and the header is padded with spaces to a multiple of
    /// 8 bytes. With at most one metadata key the bytes equal the reference writer's.
    /// - Throws: `SafeTensorsError` of kind `.invalidEntry` when an entry's byte count does not
    ///   match its shape, or a name is empty or reserved.
    public static func encode(_ tensors: [String: SafeTensorsEntry],
                              metadata: [String: String] = [:]) throws -> [UInt8] {
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { key in
                jsonString(key) + ":" + jsonString(metadata[key] ?? "")
            }.joined(separator: ",")
            header += "}"
            first = false
        }
        let keys = tensors.keys.sorted { a, b in
            let rankA = tensors[a]?.dtype.sortRank ?? 0, rankB = tensors[b]?.dtype.sortRank ?? 0
            if rankA != rankB { return rankA > rankB }
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        var offset = 0
        for key in keys {
            guard let entry = tensors[key] else { continue }
            if key.isEmpty || key == "__metadata__" {
                throw SafeTensorsError(kind: .invalidEntry, file: "<memory>", key: key,
                                       detail: "tensor names must be non-empty and not '__metadata__'")
            }
            guard let size = byteCount(shape: entry.shape, dtype: entry.dtype), size == entry.data.count else {
                throw SafeTensorsError(kind: .invalidEntry, file: "<memory>", key: key,
                                       detail: "shape \(entry.shape) of \(entry.dtype.rawValue) does not "
                                           + "match \(entry.data.count) data bytes")
            }
            if !first { header += "," }
            first = false
            header += jsonString(key) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":["
                + entry.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        out.append(contentsOf: littleEndianBytes([UInt64(headerBytes.count)]))
        out.append(contentsOf: headerBytes)
        for key in keys { if let entry = tensors[key] { out.append(contentsOf: entry.data) } }
        return out
    }

    /// Serialises tensors and writes them atomically (see `AtomicFile`).
    public static func write(_ tensors: [String: SafeTensorsEntry], metadata: [String: String] = [:],
                             to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    /// The named tensor converted to `Float`, with errors naming the key and file.
    public static func floats(named key: String, in tensors: [String: SafeTensorsEntry],
                              file: String = "<memory>") throws -> [Float] {
        guard let entry = tensors[key] else {
            throw SafeTensorsError(kind: .missingTensor, file: file, key: key,
                                   detail: "no such tensor (the file has \(tensors.count))")
        }
        do {
            return try entry.floats()
        } catch var error as SafeTensorsError {
            error.file = file
            error.key = key
            throw error
        }
    }

    /// `shape.product * dtype.byteSize`, or nil on a negative dimension or overflow.
    public static func byteCount(shape: [Int], dtype: SafeTensorsDType) -> Int? {
        var count = dtype.byteSize
        for dim in shape {
            if dim < 0 { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }

    // MARK: - Parsing

    private struct TensorInfo: Decodable {
        var dtype: String
        var shape: [Int]
        var offsets: [Int]
        enum CodingKeys: String, CodingKey { case dtype, shape, offsets = "data_offsets" }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Header: Decodable {
        var tensors: [(String, TensorInfo)] = []
        var metadata: [String: String] = [:]
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    tensors.append((key.stringValue, try container.decode(TensorInfo.self, forKey: key)))
                }
            }
        }
    }

    private struct Validated {
        var key: String
        var dtype: SafeTensorsDType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    private static func parse<Source: ByteSource>(_ source: Source) throws
        -> (tensors: [String: SafeTensorsEntry], metadata: [String: String]) {
        let file = source.path
        func fail(_ kind: SafeTensorsError.Kind, _ key: String?, _ detail: String) -> SafeTensorsError {
            SafeTensorsError(kind: kind, file: file, key: key, detail: detail)
        }
        if source.size < 8 {
            throw fail(.truncated, nil, "file has \(source.size) bytes, fewer than the 8-byte header length")
        }
        let lengthBytes = try source.read(offset: 0, count: 8)
        let declared = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        if declared > UInt64(maximumHeaderLength) {
            throw fail(.headerTooLarge, nil, "header length \(declared) exceeds the limit of \(maximumHeaderLength)")
        }
        let headerLength = Int(declared)
        if headerLength > source.size - 8 {
            throw fail(.truncated, nil, "header length \(headerLength) exceeds the \(source.size - 8) bytes after it")
        }
        let headerBytes = try source.read(offset: 8, count: headerLength)
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw fail(.invalidHeader, nil, "header is not valid UTF-8")
        }
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail(.invalidHeader, nil, "header does not start with '{'")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.keyNotFound(_, context), let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.first?.stringValue
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            var reason = context.debugDescription
            while reason.hasSuffix(".") { reason.removeLast() }
            throw fail(.invalidHeader, key, "header JSON is malformed" + (path.isEmpty ? "" : " at '\(path)'")
                + " (\(reason))")
        } catch {
            throw fail(.invalidHeader, nil, "header JSON is malformed: \(error)")
        }

        let bufferLength = source.size - 8 - headerLength
        var entries: [Validated] = []
        entries.reserveCapacity(header.tensors.count)
        for (key, info) in header.tensors.sorted(by: { $0.0 < $1.0 }) {
            guard let dtype = SafeTensorsDType(rawValue: info.dtype) else {
                throw fail(.unknownDType, key, "unknown dtype '\(info.dtype)'")
            }
            if info.shape.contains(where: { $0 < 0 }) {
                throw fail(.invalidShape, key, "shape \(info.shape) has a negative dimension")
            }
            guard let size = byteCount(shape: info.shape, dtype: dtype) else {
                throw fail(.shapeOverflow, key, "shape \(info.shape) of \(dtype.rawValue) overflows a byte count")
            }
            guard info.offsets.count == 2, info.offsets[0] >= 0, info.offsets[0] <= info.offsets[1] else {
                throw fail(.invalidOffsets, key, "data_offsets \(info.offsets) is not [begin, end] with 0 <= begin <= end")
            }
            let begin = info.offsets[0], end = info.offsets[1]
            if end - begin != size {
                throw fail(.sizeMismatch, key, "shape \(info.shape) of \(dtype.rawValue) needs \(size) bytes "
                    + "but data_offsets \(info.offsets) span \(end - begin)")
            }
            if end > bufferLength {
                throw fail(.offsetOutOfBounds, key, "data_offsets \(info.offsets) exceed the data buffer "
                    + "of \(bufferLength) bytes (the file may be truncated)")
            }
            entries.append(Validated(key: key, dtype: dtype, shape: info.shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end, $0.key) < ($1.begin, $1.end, $1.key) }
        var expected = 0
        var previous: String?
        for entry in entries {
            if entry.begin > expected {
                throw fail(.gapInOffsets, entry.key, "begins at byte \(entry.begin) but the previous tensor"
                    + (previous.map { " '\($0)'" } ?? "s") + " end at byte \(expected)")
            }
            if entry.begin < expected {
                throw fail(.overlappingOffsets, entry.key, "range [\(entry.begin), \(entry.end)] overlaps tensor '"
                    + (previous ?? "") + "' which ends at byte \(expected)")
            }
            expected = entry.end
            previous = entry.key
        }
        if expected != bufferLength {
            throw fail(.incompleteCoverage, nil, "tensors cover \(expected) of the \(bufferLength) data bytes")
        }

        var tensors: [String: SafeTensorsEntry] = [:]
        tensors.reserveCapacity(entries.count)
        let dataStart = 8 + headerLength
        for entry in entries {
            let bytes = try source.read(offset: dataStart + entry.begin, count: entry.end - entry.begin)
            tensors[entry.key] = SafeTensorsEntry(dtype: entry.dtype, shape: entry.shape, data: bytes)
        }
        return (tensors, header.metadata)
    }

    /// JSON string literal escaped as serde_json does.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - Byte sources

private protocol ByteSource {
    var size: Int { get }
    var path: String { get }
    func read(offset: Int, count: Int) throws -> [UInt8]
}

private struct FileSource: ByteSource {
    let fd: Int32
    let size: Int
    let path: String

    func read(offset: Int, count: Int) throws -> [UInt8] {
        var failure: Int32 = 0
        var total = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while total < count {
                let n = pread(fd, buffer.baseAddress.map { $0 + total }, count - total, off_t(offset + total))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                total += n
            }
            if total < count {
                // Zero the rest so the array is fully initialised before it is discarded.
                buffer.baseAddress.map { ($0 + total).initialize(repeating: 0, count: count - total) }
            }
            initialized = count
        }
        if failure != 0 {
            throw SafeTensorsError(kind: .unreadable, file: path, key: nil,
                                   detail: "read failed at byte \(offset + total) (\(String(cString: strerror(failure))))")
        }
        if total < count {
            throw SafeTensorsError(kind: .truncated, file: path, key: nil,
                                   detail: "file shrank while reading: ended at byte \(offset + total)")
        }
        return bytes
    }
}

private struct MemorySource: ByteSource {
    let bytes: [UInt8]
    let path: String
    var size: Int { bytes.count }

    func read(offset: Int, count: Int) throws -> [UInt8] {
        Array(bytes[offset..<(offset + count)])
    }
}

// MARK: - Helpers

private func littleEndianBytes<Word: FixedWidthInteger>(_ words: [Word]) -> [UInt8] {
    let size = MemoryLayout<Word>.size
    return [UInt8](unsafeUninitializedCapacity: words.count * size) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        for (i, word) in words.enumerated() {
            raw.storeBytes(of: word.littleEndian, toByteOffset: i * size, as: Word.self)
        }
        initialized = words.count * size
    }
}

/// IEEE 754 binary16 to binary32, including subnormals, infinities and NaN.
private func floatFromHalf(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Subnormal or zero: mantissa * 2^-24.
        let magnitude = Float(mantissa) * 0x1.0p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
}
