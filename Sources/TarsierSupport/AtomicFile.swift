#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An error raised while writing a file atomically.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable {
    /// The file that was being written.
    public var path: String
    /// The step that failed (`create`, `write`, `fsync`, `rename`, ...).
    public var operation: String
    /// The system error number, or 0 when not applicable.
    public var code: Int32

    /// A message naming the file, the failed step and what to check.
    public var description: String {
        let reason = code == 0 ? "unknown error" : String(cString: strerror(code))
        return "cannot write '\(path)': \(operation) failed (\(reason)); "
            + "check that the directory exists, is writable and has free space"
    }
}

/// Crash-safe file replacement.
///
/// The bytes go to a temporary file in the target's directory, which is flushed to disk,
/// renamed over the target, and the directory is flushed too. A writer killed at any point
/// leaves either the old target or the new one, never a partial file.
public enum AtomicFile {
    /// Atomically replaces the file at `path` with `bytes`.
    /// - Parameters:
    ///   - bytes: The complete new contents.
    ///   - path: The target file; its directory must exist.
    ///   - permissions: Mode bits of a newly created file (the umask applies).
    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws {
        try bytes.withUnsafeBytes { try write(buffer: $0, to: path, permissions: permissions) }
    }

    /// Atomically replaces the file at `path` with `data`.
    public static func write(_ data: Data, to path: String, permissions: mode_t = 0o644) throws {
        try data.withUnsafeBytes { try write(buffer: $0, to: path, permissions: permissions) }
    }

    /// Atomically replaces the file at `path` with the UTF-8 encoding of `text`.
    public static func write(_ text: String, to path: String, permissions: mode_t = 0o644) throws {
        try write(Array(text.utf8), to: path, permissions: permissions)
    }

    private static func write(buffer: UnsafeRawBufferPointer, to path: String,
                              permissions: mode_t) throws {
        let directory = directoryName(of: path)
        let prefix = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        let base = String(path.dropFirst(prefix.count))
        if base.isEmpty || base == "." || base == ".." {
            throw AtomicFileError(path: path, operation: "naming the target", code: EISDIR)
        }
        var random = SystemRandomNumberGenerator()
        let suffix = String(random.next() & 0xFFFF_FFFF, radix: 16)
        let temporary = prefix + ".\(base).tmp-\(getpid())-\(suffix)"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        if fd < 0 { throw AtomicFileError(path: path, operation: "create temporary file", code: errno) }
        var succeeded = false
        defer { if !succeeded { unlink(temporary) } }

        var written = 0
        while written < buffer.count {
            let start = buffer.baseAddress.map { $0 + written }
            let n = systemWrite(fd, start, buffer.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw AtomicFileError(path: path, operation: "write", code: code)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            throw AtomicFileError(path: path, operation: "fsync", code: code)
        }
        if close(fd) != 0 { throw AtomicFileError(path: path, operation: "close", code: errno) }
        if rename(temporary, path) != 0 { throw AtomicFileError(path: path, operation: "rename", code: errno) }
        succeeded = true

        // Persist the directory entry; failure here cannot undo the rename, so it is reported.
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD < 0 { throw AtomicFileError(path: path, operation: "open directory", code: errno) }
        defer { close(dirFD) }
        if fsync(dirFD) != 0 && errno != EINVAL {
            throw AtomicFileError(path: path, operation: "fsync directory", code: errno)
        }
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, pointer, count)
    #else
    return Darwin.write(fd, pointer, count)
    #endif
}
