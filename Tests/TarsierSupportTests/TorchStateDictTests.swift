import Foundation
import XCTest
@testable import TarsierSupport

/// Fixtures are written by scripts/make_pth_fixtures.py with torch 1.13 (torch.save's zip format);
/// pth_expected.safetensors holds each good tensor contiguous, keyed "<fixture>/<key>".
final class TorchStateDictTests: XCTestCase {
    static func fixture(_ name: String) throws -> String {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("Fixtures folder missing from the test bundle")
        }
        return folder.appendingPathComponent(name).path
    }

    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tarsier-pth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func expected(_ fixture: String) throws -> [String: SafeTensorsEntry] {
        let all = try SafeTensors.read(contentsOf: try Self.fixture("pth_expected.safetensors")).tensors
        var out: [String: SafeTensorsEntry] = [:]
        for (key, value) in all where key.hasPrefix(fixture + "/") { out[String(key.dropFirst(fixture.count + 1))] = value }
        return out
    }

    // MARK: good files

    func testGoodFixturesEqualExpectedBitForBit() throws {
        for name in ["linear_bn", "mixed", "checkpoint"] {
            let got = try TorchStateDict.read(contentsOf: try Self.fixture(name + ".pth"))
            let want = try expected(name)
            XCTAssertFalse(want.isEmpty, name)
            XCTAssertEqual(Set(got.keys), Set(want.keys), name)
            for (key, entry) in want {
                XCTAssertEqual(got[key]?.dtype, entry.dtype, "\(name)/\(key)")
                XCTAssertEqual(got[key]?.shape, entry.shape, "\(name)/\(key)")
                XCTAssertEqual(got[key]?.data, entry.data, "\(name)/\(key) bytes")
            }
        }
    }

    func testViewsTransposeAndIntegersIndependentlyOfTheExpectedFile() throws {
        let mixed = try TorchStateDict.read(contentsOf: try Self.fixture("mixed.pth"))
        // base = arange(10) * 0.5 - 1.25; view_a = base[2:8].view(2, 3); view_b = base[1::3]
        let base = (0..<10).map { Float($0) * 0.5 - 1.25 }
        XCTAssertEqual(try mixed["base"]?.floats(), base)
        XCTAssertEqual(mixed["view_a"]?.shape, [2, 3])
        XCTAssertEqual(try mixed["view_a"]?.floats(), Array(base[2..<8]))
        XCTAssertEqual(try mixed["view_b"]?.floats(), [base[1], base[4], base[7]])
        // transposed = (arange(12) / 3).reshape(3, 4).t()
        XCTAssertEqual(mixed["transposed"]?.shape, [4, 3])
        let t = (0..<4).flatMap { i in (0..<3).map { j in Float(j * 4 + i) / 3 } }
        XCTAssertEqual(try mixed["transposed"]?.floats(), t)
        XCTAssertEqual(mixed["scalar"]?.shape, [])
        XCTAssertEqual(try mixed["scalar"]?.floats(), [2.5])
        XCTAssertEqual(try mixed["int32"]?.integers(), [-7, Int64(Int32.max)])
        XCTAssertEqual(try mixed["double"]?.doubles(), [0.1, -1e300, 3.5, Double.leastNonzeroMagnitude])
        XCTAssertEqual(try mixed["bf16"]?.floats(), [1, -3])
        XCTAssertEqual(try mixed["param"]?.floats(), [1, 2])
        let bn = try TorchStateDict.read(contentsOf: try Self.fixture("linear_bn.pth"))
        XCTAssertEqual(bn["1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(try bn["1.num_batches_tracked"]?.integers(), [3])
        XCTAssertEqual(Set(bn.keys), ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                      "1.running_var", "1.num_batches_tracked"])
    }

    // MARK: malicious and damaged files

    func testMaliciousAndDamagedFilesThrowNamingTheCause() throws {
        let cases: [(String, TorchStateDictError.Kind, [String])] = [
            ("evil_system.pth", .forbiddenGlobal, ["posix.system"]),
            ("evil_eval.pth", .forbiddenGlobal, ["builtins.eval", "STACK_GLOBAL"]),
            ("evil_getattr.pth", .forbiddenGlobal, ["__builtin__.getattr"]),
            ("evil_inst.pth", .unsupportedOpcode, ["INST"]),
            ("bad_opcode.pth", .unsupportedOpcode, ["0xff"]),
            ("compressed.pth", .archive, ["archive/data.pkl", "compressed"]),
            ("truncated.pth", .archive, ["end of central directory"]),
            ("offset_past_eof.pth", .archive, ["checkpoint/data.pkl", "offset"]),
            ("tensor_oob.pth", .invalidTensor, ["'w'", "reaches element 3 of a 2-element storage"]),
        ]
        for (name, kind, needles) in cases {
            let path = try Self.fixture(name)
            XCTAssertThrowsError(try TorchStateDict.read(contentsOf: path), name) { error in
                guard let error = error as? TorchStateDictError else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(error.kind, kind, "\(name): \(error)")
                XCTAssertTrue(error.description.contains(path), "\(name) names the file: \(error)")
                for needle in needles {
                    XCTAssertTrue(error.description.contains(needle), "\(name) mentions \(needle): \(error)")
                }
            }
        }
    }

    func testEveryTruncatedPrefixThrows() throws {
        let path = directory + "/prefix.pth"
        for name in ["linear_bn.pth", "mixed.pth", "checkpoint.pth"] {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try Self.fixture(name))))
            for length in stride(from: 0, to: bytes.count, by: 3) {
                try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
                XCTAssertThrowsError(try TorchStateDict.read(contentsOf: path), "\(name) cut at \(length)")
            }
        }
    }

    func testBitFlipsNeverCrashAndDataFlipsAreCaught() throws {
        let source = try Self.fixture("linear_bn.pth")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source)))
        let good = try TorchStateDict.read(contentsOf: source)
        let path = directory + "/flip.pth"
        var silentlyDifferent: [Int] = []
        for position in stride(from: 0, to: bytes.count, by: 2) {
            var copy = bytes
            copy[position] ^= 0x5a
            try Data(copy).write(to: URL(fileURLWithPath: path))
            // Either a typed error or the same tensors (the byte was padding or unused metadata).
            if let got = try? TorchStateDict.read(contentsOf: path), got != good { silentlyDifferent.append(position) }
        }
        XCTAssertEqual(silentlyDifferent, [], "flips that changed tensors without an error (CRC should catch them)")
    }

    // MARK: crafted archives (in-memory zip writer)

    /// A STORED zip of `entries`; with `zip64`, sizes and offsets go through zip64 records.
    static func zip(_ entries: [(String, [UInt8])], zip64: Bool = false) -> [UInt8] {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> (8 * UInt64($0))) & 0xff) } }
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in entries {
            let offset = out.count, crc = UInt64(ZipArchive.crc32(data)), n = Array(name.utf8)
            out += le(0x0403_4b50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4)
                + le(UInt64(data.count), 4) + le(UInt64(data.count), 4) + le(UInt64(n.count), 2) + le(0, 2) + n + data
            let sat: UInt64 = 0xFFFF_FFFF
            let extra = zip64 ? le(1, 2) + le(24, 2) + le(UInt64(data.count), 8) + le(UInt64(data.count), 8)
                + le(UInt64(offset), 8) : []
            central += le(0x0201_4b50, 4) + le(45, 2) + le(45, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4)
                + le(zip64 ? sat : UInt64(data.count), 4) + le(zip64 ? sat : UInt64(data.count), 4)
                + le(UInt64(n.count), 2) + le(UInt64(extra.count), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
                + le(zip64 ? sat : UInt64(offset), 4) + n + extra
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let record = out.count
            out += le(0x0606_4b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4)
                + le(UInt64(entries.count), 8) + le(UInt64(entries.count), 8) + le(UInt64(central.count), 8)
                + le(UInt64(cdOffset), 8)
            out += le(0x0706_4b50, 4) + le(0, 4) + le(UInt64(record), 8) + le(1, 4)
            out += le(0x0605_4b50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2)
                + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(0, 2)
        } else {
            out += le(0x0605_4b50, 4) + le(0, 2) + le(0, 2) + le(UInt64(entries.count), 2)
                + le(UInt64(entries.count), 2) + le(UInt64(central.count), 4) + le(UInt64(cdOffset), 4) + le(0, 2)
        }
        return out
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Re-packs a good fixture's entries, optionally through zip64 records.
    func testZip64ArchiveReadsTheSame() throws {
        let source = try Self.fixture("linear_bn.pth")
        let archive = try ZipArchive(path: source)
        let entries = try archive.entries.map { ($0.name, try archive.read($0)) }
        let plain = try write(Self.zip(entries), "plain.pth"), wide = try write(Self.zip(entries, zip64: true), "wide.pth")
        let want = try TorchStateDict.read(contentsOf: source)
        XCTAssertEqual(try TorchStateDict.read(contentsOf: plain), want)
        XCTAssertEqual(try TorchStateDict.read(contentsOf: wide), want)
    }

    func pickleError(_ pickle: [UInt8], _ file: String, extra: [(String, [UInt8])] = []) throws -> TorchStateDictError? {
        let path = try write(Self.zip([("a/data.pkl", pickle)] + extra), file)
        do {
            _ = try TorchStateDict.read(contentsOf: path)
            return nil
        } catch let error as TorchStateDictError {
            XCTAssertTrue(error.description.contains(path), "\(error)")
            return error
        }
    }

    func testDeepNestingAndLimitsFailCleanly() throws {
        // 300,000 nested one-tuples: no recursion anywhere, so this cannot overflow the stack.
        var deep: [UInt8] = [0x80, 0x02, 0x4e] + [UInt8](repeating: 0x85, count: 300_000) + [0x2e]
        XCTAssertEqual(try pickleError(deep, "deep.pth")?.kind, .unsupported) // a tuple, not a dict
        deep = [0x80, 0x02] + [UInt8](repeating: 0x28, count: 70_000) + [0x2e]
        XCTAssertEqual(try pickleError(deep, "marks.pth")?.kind, .limitExceeded)
        // A list that contains itself (memo cycle) is harmless.
        let cycle: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]
        XCTAssertEqual(try pickleError(cycle, "cycle.pth")?.kind, .unsupported)
        // BINGET of a memo slot never stored; STOP on an empty stack; a string longer than the pickle.
        XCTAssertEqual(try pickleError([0x80, 0x02, 0x68, 0x07, 0x2e], "get.pth")?.kind, .malformedPickle)
        XCTAssertEqual(try pickleError([0x80, 0x02, 0x2e], "stop.pth")?.kind, .malformedPickle)
        XCTAssertEqual(try pickleError([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41], "str.pth")?.kind, .malformedPickle)
        // A storage class called through REDUCE rather than named in a persistent id.
        let call: [UInt8] = [0x80, 0x02] + Array("ctorch\nFloatStorage\n".utf8) + [0x29, 0x52, 0x2e]
        XCTAssertEqual(try pickleError(call, "call.pth")?.kind, .forbiddenGlobal)
        // An empty dict is an empty state dict.
        XCTAssertNil(try pickleError([0x80, 0x02, 0x7d, 0x2e], "empty.pth"))
    }

    func testStorageSizeMustMatchItsPersistentID() throws {
        // tensor_oob.pth's pickle with the size (4,) patched to (2,), over storages of 2 and 1 floats.
        let archive = try ZipArchive(path: try Self.fixture("tensor_oob.pth"))
        var fixed = try archive.read("archive/data.pkl")
        if let i = fixed.firstIndex(of: 0x04), fixed[i - 1] == 0x4b { fixed[i] = 0x02 } // size (4,) -> (2,)
        let good = try pickleError(fixed, "ok.pth", extra: [("a/data/0", [0, 0, 128, 63, 0, 0, 0, 64])])
        XCTAssertNil(good)
        let short = try pickleError(fixed, "short.pth", extra: [("a/data/0", [0, 0, 128, 63])])
        XCTAssertEqual(short?.kind, .invalidTensor)
        XCTAssertTrue(short?.description.contains("a/data/0") ?? false, "\(String(describing: short))")
        let missing = try pickleError(fixed, "missing.pth")
        XCTAssertEqual(missing?.kind, .archive)
    }
}
