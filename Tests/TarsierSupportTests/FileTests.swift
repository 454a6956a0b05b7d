import Foundation
import XCTest
import TarsierSupport

final class AtomicFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tarsier-atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testWritesAndReplaces() throws {
        let path = directory + "/a.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
        try AtomicFile.write(Data([9]), to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), [9])
        try AtomicFile.write("text\n", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "text\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["a.bin"])
    }

    func testRelativePath() throws {
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try AtomicFile.write([7], to: "relative.bin")
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/relative.bin"))), [7])
    }

    func testFailureLeavesTargetAndNoTemporary() throws {
        // Renaming a file over a non-empty directory fails after the data was written.
        let target = directory + "/occupied"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try AtomicFile.write([1], to: target + "/inner")
        XCTAssertThrowsError(try AtomicFile.write([1, 2, 3], to: target)) { error in
            XCTAssertTrue(String(describing: error).contains(target), String(describing: error))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["occupied"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["inner"])
    }

    func testMissingDirectory() {
        let path = directory + "/missing/file.bin"
        XCTAssertThrowsError(try AtomicFile.write([1], to: path)) { error in
            XCTAssertTrue(String(describing: error).contains(path))
        }
    }

    /// Child side of `testKilledWriterLeavesCompleteFile`: rewrites the target forever.
    func testChildWriterLoop() throws {
        guard let path = ProcessInfo.processInfo.environment["TARSIER_ATOMIC_CHILD"] else { return }
        for value in 2..<10_000 {
            try AtomicFile.write([UInt8](repeating: UInt8(value % 250 + 2), count: 4 << 20), to: path)
        }
    }

    /// A writer killed with SIGKILL at random moments leaves one complete version every time.
    func testKilledWriterLeavesCompleteFile() throws {
        let path = directory + "/big.bin"
        try AtomicFile.write([UInt8](repeating: 1, count: 1 << 20), to: path)
        let executable = URL(fileURLWithPath: CommandLine.arguments[0])
        var environment = ProcessInfo.processInfo.environment
        environment["TARSIER_ATOMIC_CHILD"] = path
        for delay in [180_000, 420_000] as [UInt32] {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["TarsierSupportTests.AtomicFileTests/testChildWriterLoop"]
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertTrue(bytes.count == 1 << 20 || bytes.count == 4 << 20, "size \(bytes.count)")
            XCTAssertTrue(bytes.allSatisfy { $0 == bytes[0] }, "mixed contents")
        }
        // The last kill normally lands after at least one complete replacement.
        let final = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(final.count, 4 << 20, "the child never replaced the file; was it started?")
    }
}

final class JSONLinesTests: XCTestCase {
    struct Record: Codable, Equatable {
        var step: Int
        var loss: Double
        var name: String
    }

    func testAppendsFlushesAndSkipsPartialLastLine() throws {
        let path = NSTemporaryDirectory() + "tarsier-jsonl-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let records = [Record(step: 1, loss: 2.5, name: "a/b"), Record(step: 2, loss: .nan, name: "line\nbreak"),
                       Record(step: 3, loss: -.infinity, name: "")]
        let writer = try JSONLinesWriter(path: path, append: false)
        try writer.write(records[0])
        // Flushed per line: another reader sees it before close.
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8),
                       #"{"loss":2.5,"name":"a/b","step":1}"# + "\n")
        try writer.write(records[1])
        writer.close()
        let appender = try JSONLinesWriter(path: path)
        try appender.write(records[2])
        appender.close()
        XCTAssertThrowsError(try appender.write(records[0]))
        // A writer killed mid-line leaves a partial last line.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":4,"lo"#.utf8))
        handle.closeFile()

        let read = try JSONLines.read(Record.self, contentsOf: path)
        XCTAssertEqual(read.count, 3)
        XCTAssertEqual(read[0], records[0])
        XCTAssertTrue(read[1].loss.isNaN)
        XCTAssertEqual(read[1].name, "line\nbreak")
        XCTAssertEqual(read[2], records[2])
    }

    func testBadLineNamesFileAndLine() throws {
        let path = NSTemporaryDirectory() + "tarsier-jsonl-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AtomicFile.write(#"{"step":1,"loss":1,"name":"x"}"# + "\nnot json\n", to: path)
        XCTAssertThrowsError(try JSONLines.read(Record.self, contentsOf: path)) { error in
            XCTAssertEqual((error as? JSONLinesError)?.line, 2)
            XCTAssertTrue(String(describing: error).contains(path))
        }
    }
}
