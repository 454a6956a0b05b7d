import Foundation
import TarsierImage
import TarsierSupport
import XCTest

/// Every functional transform against torchvision 0.14 + Pillow 9.4 on the fixture's images.
final class TransformGoldenTests: XCTestCase {
    /// The largest difference per sample allowed per operation (8-bit scale; 0 means bit-exact).
    /// Everything is exact today; the table is where a tolerance would be stated.
    static let tolerance: [String: Int] = [:]

    func testAgainstTorchvision() throws {
        let golden = try TransformGolden.load()
        var worst: [String: (maxError: Int, cases: Int, differing: Int)] = [:]
        for (index, entry) in golden.cases.enumerated() {
            guard let op = entry["op"]?.string, let source = entry["input"]?.string,
                  let params = entry["params"]?.object, let input = golden.inputs[source] else {
                XCTFail("case \(index) is malformed")
                continue
            }
            let label = "case \(index) \(op)(\(source), \(params.filter { $0.key != "matrix" }))"
            if let tensor = entry["tensor"] {
                let expected = try TransformGolden.decodeTensor(tensor)
                let got = try runPlanar(op, input: input, params: params)
                XCTAssertEqual(got.shape, expected.shape, label)
                guard got.shape == expected.shape else { continue }
                let maxError = zip(got.values, expected.values).map { abs($0 - $1) }.max() ?? 0
                XCTAssertEqual(maxError, 0, "\(label): max error \(maxError)")
                let previous = worst[op] ?? (0, 0, 0)
                worst[op] = (max(previous.maxError, maxError == 0 ? 0 : 1), previous.cases + 1,
                             previous.differing + (maxError == 0 ? 0 : 1))
                continue
            }
            guard let outputEntry = entry["output"] else {
                XCTFail("\(label) has no output")
                continue
            }
            let expected = try TransformGolden.decodeImage(outputEntry)
            let got: Image
            do {
                got = try run(op, input: input, params: params)
            } catch {
                XCTFail("\(label) threw \(error)")
                continue
            }
            guard let d = difference(got, expected) else {
                XCTFail("\(label): got \(describe(got)), torchvision gives \(describe(expected))")
                continue
            }
            let allowed = (Self.tolerance[op] ?? 0) * (expected.bitDepth == 16 ? 257 : 1)
            XCTAssertLessThanOrEqual(d.maxError, allowed,
                                     "\(label): max error \(d.maxError), \(d.differing) of \(d.count) samples differ")
            let previous = worst[op] ?? (0, 0, 0)
            worst[op] = (max(previous.maxError, d.maxError), previous.cases + 1, previous.differing + d.differing)
        }
        print("Max error vs torchvision \(golden.versions["torchvision"] ?? "?") / Pillow \(golden.versions["pillow"] ?? "?") per operation (samples):")
        for (op, w) in worst.sorted(by: { $0.key < $1.key }) {
            print("  \(op.padding(toLength: 14, withPad: " ", startingAt: 0)) cases \(w.cases)  max error \(w.maxError)  differing samples \(w.differing)")
        }
    }

    /// The affine matrices themselves match torchvision's `_get_inverse_affine_matrix` to the last bit.
    func testInverseAffineMatrix() throws {
        let golden = try TransformGolden.load()
        for entry in golden.cases where entry["op"]?.string == "affine" {
            guard let params = entry["params"]?.object, let expected = params["matrix"]?.doubles,
                  let source = entry["input"]?.string, let input = golden.inputs[source] else {
                XCTFail("affine case lacks its matrix")
                continue
            }
            let center = pair(params["center"]) ?? (Double(input.width) * 0.5, Double(input.height) * 0.5)
            let matrix = ImageFunctional.inverseAffineMatrix(
                center: center, angle: double(params["angle"]), translate: pair(params["translate"]) ?? (0, 0),
                scale: double(params["scale"]), shear: pair(params["shear"]) ?? (0, 0))
            XCTAssertEqual(matrix, expected, "\(params)")
        }
    }

    /// TrivialAugmentWide's and RandAugment's magnitude bins are torch's float32 linspace values.
    func testMagnitudeTables() throws {
        let golden = try TransformGolden.load()
        let names: [String: AugmentOperation] = [
            "Identity": .identity, "ShearX": .shearX, "ShearY": .shearY, "TranslateX": .translateX,
            "TranslateY": .translateY, "Rotate": .rotate, "Brightness": .brightness, "Color": .color,
            "Contrast": .contrast, "Sharpness": .sharpness, "Posterize": .posterize, "Solarize": .solarize,
            "AutoContrast": .autoContrast, "Equalize": .equalize,
        ]
        let trivial = try TrivialAugmentWide()
        let rand = try RandAugment()
        let size = try XCTUnwrap(golden.inputs["rgb"]).size
        for (policy, table) in golden.magnitudes {
            XCTAssertEqual(table.count, AugmentOperation.allCases.count)
            for (name, value) in table {
                let operation = try XCTUnwrap(names[name], name)
                let expected = value.doubles
                let got = policy == "randAugment" ? rand.magnitudes(of: operation, for: size)
                                                  : trivial.magnitudes(of: operation)
                XCTAssertEqual(got, expected, "\(policy) \(name)")
            }
        }
        XCTAssertEqual(Array(AugmentOperation.allCases.map(\.rawValue).prefix(3)), ["identity", "shearX", "shearY"])
    }

    // MARK: Dispatch

    private func run(_ op: String, input: Image, params p: [String: JSONValue]) throws -> Image {
        switch op {
        case "resize":
            return try ImageFunctional.resize(input, height: int(p["height"]), width: int(p["width"]),
                                              interpolation: interpolation(p["interpolation"]))
        case "resizeShorter":
            return try ImageFunctional.resize(input, shorterSide: int(p["size"]), maxSize: p["maxSize"]?.int,
                                              interpolation: interpolation(p["interpolation"]))
        case "centerCrop":
            return try ImageFunctional.centerCrop(input, height: int(p["height"]), width: int(p["width"]))
        case "resizedCrop":
            return try ImageFunctional.resizedCrop(input, top: int(p["top"]), left: int(p["left"]),
                                                   height: int(p["height"]), width: int(p["width"]),
                                                   size: ImageSize(width: int(p["outWidth"]), height: int(p["outHeight"])),
                                                   interpolation: interpolation(p["interpolation"]))
        case "pad":
            let mode = try XCTUnwrap(PaddingMode(rawValue: p["mode"]?.string ?? ""))
            return try ImageFunctional.pad(input, left: int(p["left"]), top: int(p["top"]), right: int(p["right"]),
                                           bottom: int(p["bottom"]), fill: p["fill"]?.ints ?? [0], mode: mode)
        case "hflip":
            return ImageFunctional.horizontalFlip(input)
        case "vflip":
            return ImageFunctional.verticalFlip(input)
        case "rotate":
            return try ImageFunctional.rotate(input, angle: double(p["angle"]), interpolation: interpolation(p["interpolation"]),
                                              expand: p["expand"]?.bool ?? false, center: pair(p["center"]),
                                              fill: p["fill"]?.ints ?? [0])
        case "affine":
            return try ImageFunctional.affine(input, angle: double(p["angle"]), translate: pair(p["translate"]) ?? (0, 0),
                                              scale: double(p["scale"]), shear: pair(p["shear"]) ?? (0, 0),
                                              interpolation: interpolation(p["interpolation"]), center: pair(p["center"]))
        case "brightness": return try ImageFunctional.adjustBrightness(input, factor: double(p["factor"]))
        case "contrast": return try ImageFunctional.adjustContrast(input, factor: double(p["factor"]))
        case "saturation": return try ImageFunctional.adjustSaturation(input, factor: double(p["factor"]))
        case "hue": return try ImageFunctional.adjustHue(input, factor: double(p["factor"]))
        case "sharpness": return try ImageFunctional.adjustSharpness(input, factor: double(p["factor"]))
        case "grayscale": return try ImageFunctional.rgbToGrayscale(input, outputChannels: int(p["channels"]))
        case "posterize": return try ImageFunctional.posterize(input, bits: int(p["bits"]))
        case "solarize": return try ImageFunctional.solarize(input, threshold: double(p["threshold"]))
        case "autocontrast": return ImageFunctional.autocontrast(input)
        case "equalize": return ImageFunctional.equalize(input)
        case "invert": return ImageFunctional.invert(input)
        default: throw TransformFixtureError("unknown op \(op)")
        }
    }

    private func runPlanar(_ op: String, input: Image, params p: [String: JSONValue]) throws -> PlanarImage {
        switch op {
        case "normalize":
            let mean = try XCTUnwrap(p["mean"]?.doubles), std = try XCTUnwrap(p["std"]?.doubles)
            let separate = try Normalize(mean: mean, std: std).apply(input.planar(), seed: 0)
            // The pipeline fuses ToTensor and Normalize; it must give the very same floats.
            let fused = try TransformPipeline([], planar: [Normalize(mean: mean, std: std)]).apply(input, seed: 0)
            XCTAssertEqual(separate, fused, "fused ToTensor + Normalize differs from the two steps")
            return fused
        case "erase":
            let value = try XCTUnwrap(p["value"]?.doubles).map(Float.init)
            return try ImageFunctional.erase(input.planar(), top: int(p["top"]), left: int(p["left"]),
                                             height: int(p["height"]), width: int(p["width"]), value: value)
        default:
            throw TransformFixtureError("unknown planar op \(op)")
        }
    }

    private func int(_ value: JSONValue?) throws -> Int { try XCTUnwrap(value?.int) }
    private func double(_ value: JSONValue?) -> Double { value?.double ?? .nan }
    private func pair(_ value: JSONValue?) -> (x: Double, y: Double)? {
        guard let list = value?.doubles, list.count == 2 else { return nil }
        return (list[0], list[1])
    }
    private func interpolation(_ value: JSONValue?) throws -> Interpolation {
        try XCTUnwrap(Interpolation(rawValue: value?.string ?? ""))
    }
}
