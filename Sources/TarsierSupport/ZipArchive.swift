#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An error raised while reading a zip archive; names the file and, when there is one, the entry.
public struct ZipArchiveError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable
        /// No end of central directory record: not a zip file, or truncated.
        case notZip
        /// A record, offset or size is inconsistent with the file.
        case damaged
        /// The entry is compressed or encrypted; only STORED entries are read.
        case unsupportedEntry
        /// The archive has no entry of that name.
        case missingEntry
        /// The entry's CRC-32 does not match its bytes.
        case checksumMismatch
    }

    /// What went wrong.
    public var kind: Kind
    /// The archive at fault.
    public var file: String
    /// The entry at fault, when one is.
    public var entry: String?
    /// The specifics: offsets, sizes.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, file: String, entry: String?, detail: String) {
        self.kind = kind
        self.file = file
        self.entry = entry
        self.detail = detail
    }

    /// A message naming the file, the entry and the fault.
    public var description: String {
        var text = "zip archive '\(file)'"
        if let entry { text += ", entry '\(entry)'" }
        return text + ": \(detail)"
    }
}

/// A minimal, validating reader of zip archives whose entries are STORED (uncompressed), as
/// `torch.save` writes them. Only the central directory is trusted for names and sizes; every
/// offset and size is checked against the file size before anything is read, and each entry's
/// CRC-32 is verified. Zip64 end records and extra fields are understood.
public final class ZipArchive {
    /// One entry of the central directory.
    public struct Entry: Sendable, Equatable {
        /// The entry's name (path inside the archive).
        public var name: String
        /// The compression method (0 = stored).
        public var method: UInt16
        /// General-purpose flags (bit 0 = encrypted).
        public var flags: UInt16
        /// The CRC-32 of the uncompressed bytes.
        public var crc32: UInt32
        /// Bytes stored in the archive.
        public var compressedSize: Int
        /// Bytes after decompression.
        public var uncompressedSize: Int
        /// Offset of the entry's local header.
        public var localHeaderOffset: Int
    }

    /// The path the archive was opened from.
    public let path: String
    /// The size of the file in bytes.
    public let fileSize: Int
    /// The entries in central-directory order.
    public let entries: [Entry]
    private let byName: [String: Int]
    private let fd: Int32
    /// Where the central directory starts; entry data must end before it.
    private let centralDirectoryOffset: Int

    /// Opens and indexes an archive.
    /// - Throws: `ZipArchiveError` naming the file (and entry) at fault.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw ZipArchiveError(kind: .unreadable, file: path, entry: nil,
                                  detail: "cannot open (\(String(cString: strerror(errno))))")
        }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw ZipArchiveError(kind: .unreadable, file: path, entry: nil, detail: "not a regular file")
        }
        self.fd = fd
        self.fileSize = Int(info.st_size)
        do {
            let (cdOffset, entries) = try ZipArchive.readCentralDirectory(fd: fd, fileSize: fileSize, path: path)
            self.centralDirectoryOffset = cdOffset
            self.entries = entries
            var byName: [String: Int] = [:]
            for (i, entry) in entries.enumerated() {
                if byName[entry.name] != nil {
                    throw ZipArchiveError(kind: .damaged, file: path, entry: entry.name,
                                          detail: "the name appears twice in the central directory")
                }
                byName[entry.name] = i
            }
            self.byName = byName
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The entry called `name`, if any.
    public func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// Reads a STORED entry's bytes, checking its local header, bounds and CRC-32.
    /// - Throws: `ZipArchiveError` naming the file and entry.
    public func read(_ name: String) throws -> [UInt8] {
        guard let entry = entry(named: name) else {
            throw ZipArchiveError(kind: .missingEntry, file: path, entry: name, detail: "no such entry")
        }
        return try read(entry)
    }

    /// Reads a STORED entry's bytes; see `read(_:)`.
    public func read(_ entry: Entry) throws -> [UInt8] {
        func fail(_ kind: ZipArchiveError.Kind, _ detail: String) -> ZipArchiveError {
            ZipArchiveError(kind: kind, file: path, entry: entry.name, detail: detail)
        }
        if entry.flags & 1 != 0 { throw fail(.unsupportedEntry, "the entry is encrypted") }
        if entry.method != 0 {
            throw fail(.unsupportedEntry, "the entry is compressed (method \(entry.method)); "
                       + "only stored (uncompressed) entries are read, as torch.save writes them")
        }
        if entry.compressedSize != entry.uncompressedSize {
            throw fail(.damaged, "stored entry has compressed size \(entry.compressedSize) "
                       + "but uncompressed size \(entry.uncompressedSize)")
        }
        let header = entry.localHeaderOffset
        guard header >= 0, header <= centralDirectoryOffset - 30 else {
            throw fail(.damaged, "local header offset \(header) lies outside the file's data "
                       + "(central directory at \(centralDirectoryOffset), file size \(fileSize))")
        }
        let local = try readBytes(at: header, count: 30, entry: entry.name)
        guard le32(local, 0) == 0x0403_4b50 else {
            throw fail(.damaged, "no local file header signature at offset \(header)")
        }
        let nameLength = Int(le16(local, 26)), extraLength = Int(le16(local, 28))
        let localName = try readBytes(at: header + 30, count: nameLength, entry: entry.name)
        if String(decoding: localName, as: UTF8.self) != entry.name {
            throw fail(.damaged, "the local header names a different entry")
        }
        let start = header + 30 + nameLength + extraLength
        let (end, overflow) = start.addingReportingOverflow(entry.compressedSize)
        guard !overflow, end <= centralDirectoryOffset else {
            throw fail(.damaged, "data at \(start)..<\(start &+ entry.compressedSize) runs past the "
                       + "central directory at \(centralDirectoryOffset) (file size \(fileSize))")
        }
        let bytes = try readBytes(at: start, count: entry.compressedSize, entry: entry.name)
        let crc = ZipArchive.crc32(bytes)
        if crc != entry.crc32 {
            throw fail(.checksumMismatch, "CRC-32 is \(hex(crc)) but the directory records \(hex(entry.crc32))")
        }
        return bytes
    }

    private func readBytes(at offset: Int, count: Int, entry: String?) throws -> [UInt8] {
        try ZipArchive.readBytes(fd: fd, fileSize: fileSize, path: path, at: offset, count: count, entry: entry)
    }

    private static func readBytes(fd: Int32, fileSize: Int, path: String, at offset: Int, count: Int,
                                  entry: String?) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !overflow, end <= fileSize else {
            throw ZipArchiveError(kind: .damaged, file: path, entry: entry,
                                  detail: "bytes \(offset)..<\(offset &+ count) lie past the end of the "
                                      + "file (\(fileSize) bytes)")
        }
        if count == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    throw ZipArchiveError(kind: .unreadable, file: path, entry: entry,
                                          detail: "read failed at offset \(offset + done)")
                }
                done += n
            }
            initialized = count
        }
    }

    private static func readCentralDirectory(fd: Int32, fileSize: Int, path: String) throws
        -> (Int, [Entry]) {
        func fail(_ detail: String, _ entry: String? = nil) -> ZipArchiveError {
            ZipArchiveError(kind: .damaged, file: path, entry: entry, detail: detail)
        }
        guard fileSize >= 22 else {
            throw ZipArchiveError(kind: .notZip, file: path, entry: nil,
                                  detail: "\(fileSize) bytes is too short for a zip file (truncated?)")
        }
        // The end of central directory record: 22 bytes plus a comment of at most 65535 bytes.
        let tailLength = min(fileSize, 22 + 65535)
        let tailStart = fileSize - tailLength
        let tail = try readBytes(fd: fd, fileSize: fileSize, path: path, at: tailStart, count: tailLength,
                                 entry: nil)
        var eocd = -1
        var i = tail.count - 22
        while i >= 0 {
            if le32(tail, i) == 0x0605_4b50 && i + 22 + Int(le16(tail, i + 20)) == tail.count {
                eocd = i
                break
            }
            i -= 1
        }
        guard eocd >= 0 else {
            throw ZipArchiveError(kind: .notZip, file: path, entry: nil,
                                  detail: "no end of central directory record (not a zip file, or truncated; "
                                      + "legacy pre-1.6 torch.save files are not supported)")
        }
        let eocdOffset = tailStart + eocd
        if le16(tail, eocd + 4) != 0 || le16(tail, eocd + 6) != 0 {
            throw fail("multi-disk archives are not supported")
        }
        var count = Int(le16(tail, eocd + 10))
        var cdSize = Int(le32(tail, eocd + 12))
        var cdOffset = Int(le32(tail, eocd + 16))
        var cdLimit = eocdOffset
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64: a 20-byte locator sits just before the end record.
            guard eocdOffset >= 20 else { throw fail("zip64 end of central directory locator is missing") }
            let locator = try readBytes(fd: fd, fileSize: fileSize, path: path, at: eocdOffset - 20, count: 20,
                                        entry: nil)
            guard le32(locator, 0) == 0x0706_4b50 else { throw fail("zip64 end of central directory locator is missing") }
            let recordOffset = le64(locator, 8)
            guard eocdOffset >= 76, recordOffset <= UInt64(eocdOffset - 76) else {
                throw fail("zip64 end record offset \(recordOffset) does not lie before its locator")
            }
            let record = try readBytes(fd: fd, fileSize: fileSize, path: path, at: Int(recordOffset), count: 56,
                                       entry: nil)
            guard le32(record, 0) == 0x0606_4b50 else {
                throw fail("no zip64 end of central directory record at offset \(recordOffset)")
            }
            let count64 = le64(record, 32), size64 = le64(record, 40), offset64 = le64(record, 48)
            guard count64 <= UInt64(fileSize), size64 <= UInt64(fileSize), offset64 <= UInt64(fileSize) else {
                throw fail("zip64 end record declares sizes larger than the file")
            }
            count = Int(count64); cdSize = Int(size64); cdOffset = Int(offset64)
            cdLimit = Int(recordOffset)
        }
        guard cdOffset <= cdLimit, cdSize <= cdLimit - cdOffset else {
            throw fail("central directory \(cdOffset)..<\(cdOffset + cdSize) overlaps or passes the end record "
                       + "at \(cdLimit) (file size \(fileSize))")
        }
        guard count <= cdSize / 46 else {
            throw fail("\(count) entries cannot fit in a \(cdSize)-byte central directory")
        }
        let cd = try readBytes(fd: fd, fileSize: fileSize, path: path, at: cdOffset, count: cdSize, entry: nil)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var p = 0
        for index in 0..<count {
            guard p + 46 <= cd.count, le32(cd, p) == 0x0201_4b50 else {
                throw fail("central directory record \(index) is missing or truncated")
            }
            let nameLength = Int(le16(cd, p + 28)), extraLength = Int(le16(cd, p + 30))
            let commentLength = Int(le16(cd, p + 32))
            let recordEnd = p + 46 + nameLength + extraLength + commentLength
            guard recordEnd <= cd.count else { throw fail("central directory record \(index) is truncated") }
            guard let name = zipDecodeUTF8(cd[(p + 46)..<(p + 46 + nameLength)]) else {
                throw fail("central directory record \(index) has a name that is not UTF-8")
            }
            var compressed = UInt64(le32(cd, p + 20)), uncompressed = UInt64(le32(cd, p + 24))
            var offset = UInt64(le32(cd, p + 42))
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
                // Zip64 extended information: only the fields saturated above are present, in order.
                var q = p + 46 + nameLength
                let extraEnd = q + extraLength
                var found = false
                while q + 4 <= extraEnd {
                    let id = le16(cd, q), size = Int(le16(cd, q + 2))
                    guard q + 4 + size <= extraEnd else { break }
                    if id == 0x0001 {
                        var r = q + 4
                        let fieldEnd = r + size
                        func next() throws -> UInt64 {
                            guard r + 8 <= fieldEnd else { throw fail("zip64 extra field is too short", name) }
                            defer { r += 8 }
                            return le64(cd, r)
                        }
                        if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                        if compressed == 0xFFFF_FFFF { compressed = try next() }
                        if offset == 0xFFFF_FFFF { offset = try next() }
                        found = true
                        break
                    }
                    q += 4 + size
                }
                if !found { throw fail("sizes are saturated but there is no zip64 extra field", name) }
            }
            guard compressed <= UInt64(fileSize), uncompressed <= UInt64(Int.max / 2), offset <= UInt64(fileSize) else {
                throw fail("size \(compressed) or offset \(offset) exceeds the file size \(fileSize)", name)
            }
            entries.append(Entry(name: name, method: le16(cd, p + 10), flags: le16(cd, p + 8),
                                 crc32: le32(cd, p + 16), compressedSize: Int(compressed),
                                 uncompressedSize: Int(uncompressed), localHeaderOffset: Int(offset)))
            p = recordEnd
        }
        return (cdOffset, entries)
    }

    /// Slicing-by-8 tables: entry `k * 256 + n` is the CRC register after byte `n` followed by `k`
    /// zero bytes. Eight bytes per step instead of one: about 6 times faster in debug builds (where
    /// checking a 500 MB checkpoint took seconds) and 4 times in release.
    private static let crcTables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for k in 1..<8 {
            for n in 0..<256 {
                let previous = t[(k - 1) * 256 + n]
                t[k * 256 + n] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()

    /// The CRC-32 (zip, IEEE 802.3) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        crcTables.withUnsafeBufferPointer { tables in
            bytes.withUnsafeBytes { raw in
                guard let t = tables.baseAddress, let data = raw.baseAddress else { return }
                let n = raw.count
                var i = 0
                while i + 8 <= n {
                    let x = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(c)
                    let lo = UInt32(truncatingIfNeeded: x), hi = UInt32(truncatingIfNeeded: x &>> 32)
                    c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo &>> 8) & 0xFF)]
                        ^ t[5 * 256 + Int((lo &>> 16) & 0xFF)] ^ t[4 * 256 + Int(lo &>> 24)]
                        ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi &>> 8) & 0xFF)]
                        ^ t[256 + Int((hi &>> 16) & 0xFF)] ^ t[Int(hi &>> 24)]
                    i += 8
                }
                while i < n {
                    c = t[Int((c ^ UInt32(data.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c &>> 8)
                    i += 1
                }
            }
        }
        return c ^ 0xFFFF_FFFF
    }
}

private func le16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
private func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}
private func le64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(le32(b, i)) | UInt64(le32(b, i + 4)) << 32 }
private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

/// Decodes UTF-8, or nil when the bytes are not valid UTF-8.
func zipDecodeUTF8<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
    var iterator = bytes.makeIterator()
    var utf8 = UTF8()
    var scalars = String.UnicodeScalarView()
    while true {
        switch utf8.decode(&iterator) {
        case .scalarValue(let s): scalars.append(s)
        case .emptyInput: return String(scalars)
        case .error: return nil
        }
    }
}
