import Foundation
import XCTest
import TarsierCore
import TarsierSupport
@testable import TarsierNN

/// Loads the torch 1.13 fixture `linear_bn.pth` (scripts/make_pth_fixtures.py, kept with the
/// TarsierSupportTests fixtures): `nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))` after three
/// training steps.
final class TorchWeightsTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TarsierSupportTests/Fixtures")

    func testLoadTorchWeightsStrictlyIntoLinearBatchNorm() throws {
        let path = Self.fixtures.appendingPathComponent("linear_bn.pth").path
        let file = try TorchStateDict.read(contentsOf: path)
        let model = Sequential([Linear(inputFeatures: 3, outputFeatures: 4), BatchNorm1d(4)])
        XCTAssertNotEqual(model.stateDictEntries()["0.weight"], file["0.weight"])
        let report = try model.loadTorchWeights(from: path, strict: true)
        XCTAssertEqual(Set(report.loaded), Set(file.keys))
        XCTAssertEqual(report.missing, [])
        XCTAssertEqual(report.unexpected, [])
        let loaded = model.stateDictEntries()
        for key in file.keys where !key.hasSuffix("num_batches_tracked") {
            XCTAssertEqual(loaded[key], file[key], key) // Float32 round trip, bit for bit
        }
        XCTAssertEqual(try loaded["1.num_batches_tracked"]?.integers(), [3])

        // By extension: .pth and a safetensors copy load the same.
        let copy = Sequential([Linear(inputFeatures: 3, outputFeatures: 4), BatchNorm1d(4)])
        try copy.loadAnyWeights(from: path)
        XCTAssertEqual(copy.stateDictEntries(), loaded)
        let st = NSTemporaryDirectory() + "tarsier-pth-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: st) }
        try model.saveWeights(to: st)
        let third = Sequential([Linear(inputFeatures: 3, outputFeatures: 4), BatchNorm1d(4)])
        try third.loadAnyWeights(from: st)
        XCTAssertEqual(third.stateDictEntries(), loaded)
    }

    func testLoadTorchWeightsReportsMismatchesAndUnsafeFiles() throws {
        let path = Self.fixtures.appendingPathComponent("linear_bn.pth").path
        let wrong = Sequential([Linear(inputFeatures: 3, outputFeatures: 5), BatchNorm1d(5)])
        XCTAssertThrowsError(try wrong.loadTorchWeights(from: path)) { error in
            XCTAssertTrue(error is WeightLoadError, "\(error)")
        }
        let model = Sequential([Linear(inputFeatures: 3, outputFeatures: 4), BatchNorm1d(4)])
        let evil = Self.fixtures.appendingPathComponent("evil_system.pth").path
        XCTAssertThrowsError(try model.loadAnyWeights(from: evil)) { error in
            XCTAssertTrue("\(error)".contains("posix.system"), "\(error)")
        }
        // remap drops the batch norm, so strict loading misses its keys.
        XCTAssertThrowsError(try model.loadTorchWeights(from: path, remap: { $0.hasPrefix("1.") ? nil : $0 }))
        let report = try model.loadTorchWeights(from: path, strict: false, remap: { $0.hasPrefix("1.") ? nil : $0 })
        XCTAssertEqual(Set(report.loaded), ["0.weight", "0.bias"])
    }
}
