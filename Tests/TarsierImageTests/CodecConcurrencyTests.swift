import Dispatch
import Foundation
import XCTest
@testable import TarsierImage

final class CodecConcurrencyTests: XCTestCase {
    /// Decoding from several threads at once gives what one thread gives.
    func testConcurrentDecodesMatchSerialOnes() throws {
        let folder = try CodecFixtures.darknetFolder()
        var inputs: [(name: String, bytes: [UInt8], minimumSize: (width: Int, height: Int)?)] = []
        for name in ["dog", "eagle", "giraffe", "horses", "kite"] {
            let bytes = try CodecFixtures.bytesAt("\(folder)/\(name).jpg")
            inputs.append(("\(name).jpg", bytes, nil))
            inputs.append(("\(name).jpg reduced", bytes, (150, 150)))
        }
        for file in ["png/pillow_photo.png", "png/rgba16_interlaced.png", "jpeg/orientation7.jpg", "jpeg/cmyk.jpg"] {
            inputs.append((file, try CodecFixtures.bytes(file), nil))
        }
        // A damaged file too, so error paths run concurrently as well.
        let dog = inputs[0].bytes
        inputs.append(("dog.jpg cut", Array(dog[..<(dog.count / 2)]), nil))

        typealias Input = (name: String, bytes: [UInt8], minimumSize: (width: Int, height: Int)?)
        func decode(_ input: Input) -> Result<Image, ImageError> {
            Result { try ImageCodec.decode(input.bytes, name: input.name, as: .rgb, minimumSize: input.minimumSize) }
                .mapError { $0 as? ImageError ?? ImageError(kind: .corrupt, file: input.name, detail: "\($0)") }
        }
        let serial = inputs.map(decode)
        let rounds = 4
        let results = ResultBox(count: inputs.count * rounds)
        DispatchQueue.concurrentPerform(iterations: inputs.count * rounds) { i in
            results.set(i, decode(inputs[i % inputs.count]))
        }
        for i in 0..<(inputs.count * rounds) {
            let input = inputs[i % inputs.count]
            switch (results.get(i), serial[i % inputs.count]) {
            case (.success(let a)?, .success(let b)): XCTAssertTrue(a == b, "\(input.name): concurrent pixels differ")
            case (.failure(let a)?, .failure(let b)): XCTAssertEqual(a, b, input.name)
            default: XCTFail("\(input.name): concurrent and serial outcomes differ")
            }
        }
        if case .failure(let error)? = serial.last {
            XCTAssertEqual(error.kind, .truncated)
        } else {
            XCTFail("the cut file decoded")
        }
    }
}

/// Results written by concurrent workers, one slot each.
private final class ResultBox: @unchecked Sendable {
    private var slots: [Result<Image, ImageError>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Image, ImageError>) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> Result<Image, ImageError>? {
        lock.lock()
        defer { lock.unlock() }
        return slots[index]
    }
}
