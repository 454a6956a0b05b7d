import TarsierImage
import TarsierSupport
import XCTest

/// The pipeline, output sizes, composition helpers and geometric corner cases.
final class TransformPipelineTests: XCTestCase {
    func testPipelineRunsImageThenPlanarSteps() throws {
        let image = makeTestImage(width: 30, height: 20)
        let pipeline = TransformPipeline([try Resize(16), try CenterCrop(16)], planar: [Normalize.imageNet])
        let out = try pipeline.apply(image, seed: 1)
        XCTAssertEqual(out.shape, [3, 16, 16])
        let byHand = try ImageFunctional.normalize(
            ImageFunctional.centerCrop(ImageFunctional.resize(image, height: 16, width: 24), height: 16, width: 16).planar(),
            mean: Normalize.imageNet.mean, std: Normalize.imageNet.std)
        XCTAssertEqual(out, byHand)
        XCTAssertEqual(Normalize.imageNet.mean, try Normalize(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]).mean)
        XCTAssertEqual(Normalize.imageNet.std, try Normalize(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]).std)
        // No planar steps: plain ToTensor.
        XCTAssertEqual(try TransformPipeline([]).apply(image, seed: 0), image.planar())
    }

    func testOutputSize() throws {
        let input = ImageSize(width: 500, height: 375)
        XCTAssertEqual(TransformPipeline([try Resize(256), try CenterCrop(224)]).outputSize(for: nil),
                       ImageSize(width: 224, height: 224))
        XCTAssertEqual(TransformPipeline([try Resize(256)]).outputSize(for: input), ImageSize(width: 341, height: 256))
        XCTAssertNil(TransformPipeline([try Resize(256)]).outputSize(for: nil))
        XCTAssertEqual(TransformPipeline([try RandomResizedCrop(224), try RandomHorizontalFlip(), try ColorJitter(brightness: 0.4)])
                        .outputSize(for: nil), ImageSize(width: 224, height: 224))
        XCTAssertNil(TransformPipeline([try RandomRotation(degrees: 30, expand: true)]).outputSize(for: input))
        XCTAssertEqual(TransformPipeline([try RandomRotation(degrees: 30, expand: true), try CenterCrop(height: 10, width: 20)])
                        .outputSize(for: input), ImageSize(width: 20, height: 10))
        XCTAssertNil(TransformPipeline([ImageLambda { image, _ in image }]).outputSize(for: input))
    }

    func testResizeOutputSizeFollowsTorchvision() throws {
        // int(size * long / short), the short side first; max_size caps the long side.
        XCTAssertEqual(try Resize(256).outputSize(forInput: ImageSize(width: 500, height: 375)), ImageSize(width: 341, height: 256))
        XCTAssertEqual(try Resize(256).outputSize(forInput: ImageSize(width: 375, height: 500)), ImageSize(width: 256, height: 341))
        XCTAssertEqual(try Resize(224).outputSize(forInput: ImageSize(width: 333, height: 333)), ImageSize(width: 224, height: 224))
        XCTAssertEqual(try Resize(100, maxSize: 150).outputSize(forInput: ImageSize(width: 400, height: 100)),
                       ImageSize(width: 150, height: 37))
        XCTAssertEqual(try Resize(height: 7, width: 9).outputSize(forInput: ImageSize(width: 1, height: 1)),
                       ImageSize(width: 9, height: 7))
        let image = makeTestImage(width: 20, height: 10)
        XCTAssertEqual(try Resize(10).apply(image, seed: 0), image, "an image already the right size is returned as it is")
    }

    func testLambdaAndRandomApply() throws {
        let image = makeTestImage(width: 12, height: 9)
        let invert = ImageLambda { image, _ in ImageFunctional.invert(image) }
        XCTAssertEqual(try invert.apply(image, seed: 0), ImageFunctional.invert(image))
        XCTAssertEqual(try RandomApply([invert], p: 1).apply(image, seed: 0), ImageFunctional.invert(image))
        XCTAssertEqual(try RandomApply([invert], p: 0).apply(image, seed: 0), image)
        let noisy = ImageLambda { image, generator in
            generator.nextUnitDouble() < 0.5 ? ImageFunctional.horizontalFlip(image) : image
        }
        XCTAssertEqual(try noisy.apply(image, seed: 3), try noisy.apply(image, seed: 3))
    }

    func testCropOutsideTheImageIsZero() throws {
        let image = makeTestImage(width: 4, height: 3, format: .gray)
        let out = try ImageFunctional.crop(image, top: -1, left: 2, height: 5, width: 4)
        XCTAssertEqual(out.size, ImageSize(width: 4, height: 5))
        for y in 0..<5 {
            for x in 0..<4 {
                let inside = y - 1 >= 0 && y - 1 < 3 && x + 2 < 4
                XCTAssertEqual(out.sample(x: x, y: y, channel: 0), inside ? image.sample(x: x + 2, y: y - 1, channel: 0) : 0)
            }
        }
        // resizedCrop of a box reaching outside matches crop-then-resize.
        let big = makeTestImage(width: 20, height: 16)
        XCTAssertEqual(try ImageFunctional.resizedCrop(big, top: -3, left: 10, height: 12, width: 14, size: ImageSize(width: 7, height: 6)),
                       try ImageFunctional.resize(ImageFunctional.crop(big, top: -3, left: 10, height: 12, width: 14), height: 6, width: 7))
        XCTAssertEqual(try ImageFunctional.resizedCrop(big, top: 2, left: 3, height: 12, width: 14, size: ImageSize(width: 7, height: 6)),
                       try ImageFunctional.resize(ImageFunctional.crop(big, top: 2, left: 3, height: 12, width: 14), height: 6, width: 7))
    }

    func testPaddingModesOnARow() throws {
        let row = Image(width: 4, height: 1, format: .gray, bytes: [1, 2, 3, 4])
        func padded(_ mode: PaddingMode) throws -> [UInt8] {
            try XCTUnwrap(ImageFunctional.pad(row, left: 2, top: 0, right: 2, bottom: 0, fill: [9], mode: mode).bytes)
        }
        XCTAssertEqual(try padded(.constant), [9, 9, 1, 2, 3, 4, 9, 9])
        XCTAssertEqual(try padded(.edge), [1, 1, 1, 2, 3, 4, 4, 4])
        XCTAssertEqual(try padded(.reflect), [3, 2, 1, 2, 3, 4, 3, 2])
        XCTAssertEqual(try padded(.symmetric), [2, 1, 1, 2, 3, 4, 4, 3])
    }

    func testRotationShortcutsAndIdentity() throws {
        let image = makeTestImage(width: 5, height: 3)
        XCTAssertEqual(try ImageFunctional.rotate(image, angle: 360), image)
        XCTAssertEqual(try ImageFunctional.rotate(image, angle: 180),
                       ImageFunctional.verticalFlip(ImageFunctional.horizontalFlip(image)))
        let quarter = try ImageFunctional.rotate(image, angle: 90, expand: true)
        XCTAssertEqual(quarter.size, ImageSize(width: 3, height: 5))
        // Counter-clockwise: the top-right pixel ends up top-left.
        XCTAssertEqual(quarter.sample(x: 0, y: 0, channel: 1), image.sample(x: 4, y: 0, channel: 1))
        XCTAssertEqual(try ImageFunctional.rotate(quarter, angle: -90, expand: true), image)
        XCTAssertEqual(try ImageFunctional.affine(image, angle: 0), image)
    }
}
