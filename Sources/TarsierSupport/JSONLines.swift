#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An error raised while writing or reading a JSON Lines file.
public struct JSONLinesError: Error, CustomStringConvertible, Equatable {
    /// The file at fault.
    public var path: String
    /// The 1-based line at fault, when one is.
    public var line: Int?
    /// What went wrong.
    public var detail: String

    /// A message naming the file (and line) and what to do.
    public var description: String {
        "JSON Lines file '\(path)'" + (line.map { ", line \($0)" } ?? "") + ": \(detail)"
    }
}

/// Appends one JSON object per line to a file, flushing after every line.
///
/// A run's event log (`metrics.jsonl`) stays readable after a crash: at worst the last line
/// is incomplete, and `JSONLines.read` skips it. Keys are sorted; non-finite floats are
/// written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
public final class JSONLinesWriter: @unchecked Sendable {
    /// The file being written.
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private let encoder: JSONEncoder
    private let lock = NSLock()

    /// Opens `path` for appending (creating it), or truncates it when `append` is false.
    public init(path: String, append: Bool = true) throws {
        self.path = path
        guard let handle = fopen(path, append ? "a" : "w") else {
            throw JSONLinesError(path: path, line: nil,
                                 detail: "cannot open for writing (\(String(cString: strerror(errno)))); "
                                     + "check that the directory exists and is writable")
        }
        file = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    }

    deinit { if let file { fclose(file) } }

    /// Encodes `value` as one JSON line, writes it and flushes the file.
    public func write<T: Encodable>(_ value: T) throws {
        let data = try encoder.encode(value)
        try lock.withLock {
            guard let file else {
                throw JSONLinesError(path: path, line: nil, detail: "writer is closed")
            }
            var line = data
            line.append(UInt8(ascii: "\n"))
            let written = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            if written != line.count || fflush(file) != 0 {
                throw JSONLinesError(path: path, line: nil,
                                     detail: "write failed (\(String(cString: strerror(errno)))); check free space")
            }
        }
    }

    /// Flushes the file to disk with `fsync`.
    public func synchronize() throws {
        try lock.withLock {
            guard let file else { return }
            if fflush(file) != 0 || fsync(fileno(file)) != 0 {
                throw JSONLinesError(path: path, line: nil, detail: "fsync failed (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Closes the file; later writes throw.
    public func close() {
        lock.withLock {
            if let file { fclose(file) }
            file = nil
        }
    }
}

/// Reading JSON Lines files.
public enum JSONLines {
    /// Decodes every complete line of `path` as `T`.
    ///
    /// A final line without a newline (a writer killed mid-line) is ignored; blank lines
    /// are skipped; any other undecodable line throws an error naming the line.
    public static func read<T: Decodable>(_ type: T.Type, contentsOf path: String) throws -> [T] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw JSONLinesError(path: path, line: nil, detail: "cannot read (\(error.localizedDescription))")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var values: [T] = []
        var lineNumber = 0
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lineNumber += 1
            let line = data[start..<newline]
            start = data.index(after: newline)
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do {
                values.append(try decoder.decode(T.self, from: Data(line)))
            } catch {
                throw JSONLinesError(path: path, line: lineNumber,
                                     detail: "cannot decode \(T.self) (\(error)); fix or remove the line")
            }
        }
        return values
    }
}
