#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into one array with `open`/`fstat`/`read`: no `Data` in between, and
/// failures become `ImageError`s that name the file.
enum ImageFileReader {
    static func read(_ path: String) throws -> [UInt8] {
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
        let expected = Int(info.st_size)
        var bytes = try [UInt8](unsafeUninitializedCapacity: expected) { buffer, initialized in
            while initialized < expected {
                let n = systemRead(fd, buffer.baseAddress.map { $0 + initialized }, expected - initialized)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw unreadable(errno, "read")
                }
                if n == 0 { break }  // the file shrank while being read
                initialized += n
            }
        }
        // Files whose size stat does not know (pipes, /proc) are read to their end.
        if expected == 0 {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw unreadable(errno, "read")
                }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
            }
        }
        return bytes
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
