import TarsierImage
import TarsierSupport
import XCTest

/// Bad parameters are refused up front with an error that names them.
final class TransformParameterTests: XCTestCase {
    func testConstructorsRejectBadParameters() {
        assertTransformError("size") { _ = try Resize(0) }
        assertTransformError("maxSize") { _ = try Resize(256, maxSize: 256) }
        assertTransformError("size") { _ = try Resize(height: 10, width: -1) }
        assertTransformError("size") { _ = try CenterCrop(0) }
        assertTransformError("size") { _ = try RandomCrop(-3) }
        assertTransformError("padding") { _ = try RandomCrop(height: 8, width: 8, padding: (left: -1, top: 0, right: 0, bottom: 0)) }
        assertTransformError("fill") { _ = try RandomCrop(8, fill: []) }
        assertTransformError("size") { _ = try RandomResizedCrop(0) }
        assertTransformError("scale") { _ = try RandomResizedCrop(224, scale: 0...1) }
        assertTransformError("ratio") { _ = try RandomResizedCrop(224, ratio: -1...2) }
        assertTransformError("p") { _ = try RandomHorizontalFlip(p: 1.5) }
        assertTransformError("p") { _ = try RandomVerticalFlip(p: -0.1) }
        assertTransformError("degrees") { _ = try RandomRotation(degrees: -10) }
        assertTransformError("degrees") { _ = try RandomRotation(degrees: -Double.infinity...0) }
        assertTransformError("translate") { _ = try RandomAffine(degrees: 0, translate: (1.5, 0)) }
        assertTransformError("scale") { _ = try RandomAffine(degrees: 0, scale: 0...1) }
        assertTransformError("shear") { _ = try RandomAffine(degrees: 0, shear: -5) }
        assertTransformError("brightness") { _ = try ColorJitter(brightness: -0.1) }
        assertTransformError("hue") { _ = try ColorJitter(hue: 0.6) }
        assertTransformError("hue") { _ = try ColorJitter(brightnessRange: nil, hueRange: -0.7...0.1) }
        assertTransformError("contrast") { _ = try ColorJitter(brightnessRange: nil, contrastRange: -1...1) }
        assertTransformError("outputChannels") { _ = try Grayscale(outputChannels: 2) }
        assertTransformError("p") { _ = try RandomGrayscale(p: 2) }
        assertTransformError("p") { _ = try RandomErasing(p: 1.1) }
        assertTransformError("scale") { _ = try RandomErasing(scale: 0.5...1.5) }
        assertTransformError("ratio") { _ = try RandomErasing(ratio: 0...3) }
        assertTransformError("value") { _ = try RandomErasing(value: .constant([])) }
        assertTransformError("mean/std") { _ = try Normalize(mean: [0.5, 0.5], std: [0.2]) }
        assertTransformError("std") { _ = try Normalize(mean: [0.5], std: [0]) }
        assertTransformError("magnitudeBins") { _ = try TrivialAugmentWide(magnitudeBins: 1) }
        assertTransformError("magnitude") { _ = try RandAugment(magnitude: 31) }
        assertTransformError("numOps") { _ = try RandAugment(numOps: -1) }
        assertTransformError("p") { _ = try RandomApply([], p: 3) }
    }

    func testFunctionsRejectBadParameters() throws {
        let image = makeTestImage(width: 10, height: 8)
        assertTransformError("size") { _ = try ImageFunctional.resize(image, height: 0, width: 5) }
        assertTransformError("height/width") { _ = try ImageFunctional.crop(image, top: 0, left: 0, height: 0, width: 4) }
        assertTransformError("height/width") {
            _ = try ImageFunctional.resizedCrop(image, top: 0, left: 0, height: -2, width: 3, size: ImageSize(width: 4, height: 4))
        }
        assertTransformError("padding") { _ = try ImageFunctional.pad(image, left: -10, top: 0, right: 0, bottom: 0) }
        assertTransformError("fill") { _ = try ImageFunctional.pad(image, padding: 1, fill: [1, 2]) }
        assertTransformError("fill") { _ = try ImageFunctional.rotate(image, angle: 10, fill: [1, 2]) }
        assertTransformError("angle") { _ = try ImageFunctional.rotate(image, angle: .nan) }
        assertTransformError("scale") { _ = try ImageFunctional.affine(image, angle: 0, scale: 0) }
        assertTransformError("factor") { _ = try ImageFunctional.adjustBrightness(image, factor: -1) }
        assertTransformError("factor") { _ = try ImageFunctional.adjustHue(image, factor: 0.51) }
        assertTransformError("bits") { _ = try ImageFunctional.posterize(image, bits: 9) }
        assertTransformError("outputChannels") { _ = try ImageFunctional.rgbToGrayscale(image, outputChannels: 4) }
        assertTransformError("box") {
            _ = try ImageFunctional.erase(image.planar(), top: 5, left: 0, height: 4, width: 2, value: [0])
        }
        assertTransformError("value") {
            _ = try ImageFunctional.erase(image.planar(), top: 0, left: 0, height: 1, width: 1, value: [0, 1])
        }
        assertTransformError("mean/std") { _ = try Normalize.imageNet.apply(image.converted(to: .gray).planar(), seed: 0) }
    }

    func testErrorsOnImagesThatDoNotFit() throws {
        let image = makeTestImage(width: 10, height: 8)
        assertTransformError("size") { _ = try RandomCrop(12).apply(image, seed: 0) }
        // With padIfNeeded the same crop works (torchvision pads by the shortfall on both sides).
        let padded = try RandomCrop(12, padIfNeeded: true).apply(image, seed: 0)
        XCTAssertEqual(padded.size, ImageSize(width: 12, height: 12))
        assertTransformError("fill") { _ = try RandomRotation(degrees: 5, fill: [1, 2]).apply(image, seed: 0) }
        assertTransformError("value") { _ = try RandomErasing(p: 1, value: .constant([1, 2])).apply(image.planar(), seed: 0) }
        let error = TransformError(transform: "Resize", parameter: "size", detail: "must be positive, got 0")
        XCTAssertEqual(error.description, "Resize: bad 'size': must be positive, got 0")
    }
}
