import TarsierCore

/// Max pooling (PyTorch's `nn.MaxPool2d`; stride defaults to the kernel size).
public final class MaxPool2d: Module {
    public let kernelSize: Int, stride: Int, padding: Int, ceilMode: Bool
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        super.init()
    }
    public override var layerDescription: String {
        "MaxPool2d(kernel_size=\(kernelSize), stride=\(stride), padding=\(padding), ceil_mode=\(ceilMode))"
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[2] + 2 * padding >= kernelSize, x.shape[3] + 2 * padding >= kernelSize else {
            throw ShapeError("\(layerDescription) expects [N, C, H, W] with H, W ≥ \(kernelSize - 2 * padding), got \(x.shape)")
        }
        return x.maxPool2d(kernel: (kernelSize, kernelSize), stride: (stride, stride), padding: (padding, padding),
                           ceilMode: ceilMode)
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d`).
public final class AvgPool2d: Module {
    public let kernelSize: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        super.init()
    }
    public override var layerDescription: String { "AvgPool2d(kernel_size=\(kernelSize), stride=\(stride), padding=\(padding))" }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[2] + 2 * padding >= kernelSize, x.shape[3] + 2 * padding >= kernelSize else {
            throw ShapeError("\(layerDescription) expects [N, C, H, W] with H, W ≥ \(kernelSize - 2 * padding), got \(x.shape)")
        }
        return x.avgPool2d(kernel: (kernelSize, kernelSize), stride: (stride, stride), padding: (padding, padding),
                           ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
}

/// Adaptive average pooling to a fixed output size (PyTorch's `nn.AdaptiveAvgPool2d`).
public final class AdaptiveAvgPool2d: Module {
    public let outputSize: (Int, Int)
    public init(outputSize: (Int, Int) = (1, 1)) { self.outputSize = outputSize; super.init() }
    public convenience init(_ size: Int) { self.init(outputSize: (size, size)) }
    public override var layerDescription: String { "AdaptiveAvgPool2d(output_size=\(outputSize))" }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ShapeError("\(layerDescription) expects [N, C, H, W], got \(x.shape)") }
        return x.adaptiveAvgPool2d(outputSize)
    }
}

/// Adaptive max pooling to a fixed output size (PyTorch's `nn.AdaptiveMaxPool2d`).
public final class AdaptiveMaxPool2d: Module {
    public let outputSize: (Int, Int)
    public init(outputSize: (Int, Int) = (1, 1)) { self.outputSize = outputSize; super.init() }
    public convenience init(_ size: Int) { self.init(outputSize: (size, size)) }
    public override var layerDescription: String { "AdaptiveMaxPool2d(output_size=\(outputSize))" }
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ShapeError("\(layerDescription) expects [N, C, H, W], got \(x.shape)") }
        return x.adaptiveMaxPool2d(outputSize)
    }
}
