/// Labelled images held in memory as raw bytes, laid out N x C x H x W.
public struct ImageClassificationSet: Sendable, Equatable {
    /// Pixel bytes, `count * channels * height * width` of them, image after image.
    public var images: [UInt8]
    /// The number of images.
    public var count: Int
    /// Channels per image (1 for grey-scale).
    public var channels: Int
    /// Image height in pixels.
    public var height: Int
    /// Image width in pixels.
    public var width: Int
    /// The class index of each image, in `0..<classNames.count`.
    public var labels: [Int]
    /// Human-readable class names, indexed by label.
    public var classNames: [String]

    /// Creates a set; sizes and labels must agree (a programmer error otherwise).
    public init(images: [UInt8], labels: [Int], channels: Int, height: Int, width: Int,
                classNames: [String]) {
        precondition(channels > 0 && height > 0 && width > 0, "image dimensions must be positive")
        precondition(images.count == labels.count * channels * height * width,
                     "\(images.count) pixel bytes do not hold \(labels.count) images of "
                         + "\(channels)x\(height)x\(width)")
        precondition(labels.allSatisfy { $0 >= 0 && $0 < classNames.count },
                     "labels must lie in 0..<\(classNames.count)")
        self.images = images
        self.count = labels.count
        self.channels = channels
        self.height = height
        self.width = width
        self.labels = labels
        self.classNames = classNames
    }

    /// Bytes per image, `channels * height * width`.
    public var imageSize: Int { channels * height * width }

    /// The pixel bytes of image `index`.
    public func image(at index: Int) -> ArraySlice<UInt8> {
        images[(index * imageSize)..<((index + 1) * imageSize)]
    }

    /// The number of images of each class.
    public func labelHistogram() -> [Int] {
        var histogram = [Int](repeating: 0, count: classNames.count)
        for label in labels { histogram[label] += 1 }
        return histogram
    }

    /// A new set holding the images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageClassificationSet {
        let size = imageSize
        var pixels = [UInt8]()
        pixels.reserveCapacity(indices.count * size)
        for index in indices {
            precondition(index >= 0 && index < count, "subset index \(index) is outside 0..<\(count)")
            pixels.append(contentsOf: images[(index * size)..<((index + 1) * size)])
        }
        return ImageClassificationSet(images: pixels, labels: indices.map { labels[$0] }, channels: channels,
                                      height: height, width: width, classNames: classNames)
    }
}
