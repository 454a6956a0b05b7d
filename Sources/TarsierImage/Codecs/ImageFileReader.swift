#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into one array with `open`/`fstat`/`read`: no `Data` in between, and
/// failures become `ImageError`s that name the file.
enum ImageFileReader {
    /// Reads the file at `path` into `buffer`, growing it when the file is larger (it is never
    /// shrunk, so one buffer per thread serves every file), and returns the number of bytes.
    static func read(_ path: String, into buffer: inout [UInt8]) throws -> Int {
        func unreadable(_ code: Int32, _ step: String) -> ImageError {
            ImageError(kind: .unreadable, file: path, detail: "\(step) failed: \(String(cString: strerror(code)))")
        }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw unreadable(errno, "open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw unreadable(errno, "stat") }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw ImageError(kind: .unreadable, file: path, detail: "it is a directory, not an image file")
        }
        // Usually one read() of the size stat gives; files whose size stat does not know (pipes,
        // /proc) report 0 and are read to their end.
        let expected = Int(info.st_size)
        if buffer.count < expected { buffer = [UInt8](repeating: 0, count: expected) }
        var count = 0
        while expected == 0 || count < expected {
            if count == buffer.count { buffer.append(contentsOf: repeatElement(0, count: max(buffer.count, 1 << 16))) }
            let n = buffer.withUnsafeMutableBytes { raw in
                systemRead(fd, raw.baseAddress.map { $0 + count }, raw.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable(errno, "read")
            }
            if n == 0 { break }  // the file shrank while being read, or a stream ended
            count += n
        }
        return count
    }

    /// Reads the whole file at `path` into a new array.
    static func read(_ path: String) throws -> [UInt8] {
        var buffer: [UInt8] = []
        let count = try read(path, into: &buffer)
        // A fresh buffer grows to the size stat reported, so this trims only files that shrank.
        if count < buffer.count { buffer.removeLast(buffer.count - count) }
        return buffer
    }
}

@inline(__always)
private func systemRead(_ fd: Int32, _ pointer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, pointer, count)
    #else
    return Darwin.read(fd, pointer, count)
    #endif
}
