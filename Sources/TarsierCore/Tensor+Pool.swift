import TarsierCPU

/// Max and average pooling over the last two axes of NCHW tensors.
extension Tensor {
    func poolGeometry(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), ceilMode: Bool,
                      countIncludePad: Bool) -> PoolGeometry {
        precondition(rank == 4, "pooling needs an NCHW input, got \(shape)")
        precondition(padding.0 * 2 <= kernel.0 && padding.1 * 2 <= kernel.1,
                     "pooling: padding \(padding) must be at most half the kernel \(kernel)")
        let g = PoolGeometry(batch: shape[0], channels: shape[1], inHeight: shape[2], inWidth: shape[3],
                             kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0,
                             strideWidth: stride.1, padHeight: padding.0, padWidth: padding.1,
                             ceilMode: ceilMode, countIncludePad: countIncludePad)
        precondition(g.outHeight > 0 && g.outWidth > 0, "pooling: input \(shape) too small for kernel \(kernel)")
        return g
    }

    /// Self as the backend wants it: channels-last kept where supported, else row-major.
    func layoutForBackend() -> Tensor {
        device.backend.prefersChannelsLast && isChannelsLast ? detached() : contiguous()
    }

    /// Max pooling (PyTorch's max_pool2d; stride defaults to the kernel size).
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          ceilMode: Bool = false) -> Tensor {
        let g = poolGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding, ceilMode: ceilMode,
                             countIncludePad: false)
        let x = layoutForBackend()
        let needsState = Autograd.isRecording && requiresGrad
        let (y, saved) = device.backend.maxPool2d(x, geometry: g, training: needsState)
        guard let saved else { return y }
        return Autograd.record(y, inputs: [self]) { grad in
            [x.device.backend.maxPool2dBackward(grad.gradientLayout(matching: x), saved: saved, geometry: g)]
        }
    }

    /// Average pooling (PyTorch's avg_pool2d).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
        let g = poolGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding, ceilMode: ceilMode,
                             countIncludePad: countIncludePad)
        // oneDNN's ceil-mode average pooling is corrected for PyTorch's divisor in NCHW only.
        let x = ceilMode ? contiguous() : layoutForBackend()
        let y = device.backend.avgPool2d(x, geometry: g)
        return Autograd.record(y, inputs: [self]) { grad in
            [x.device.backend.avgPool2dBackward(grad.gradientLayout(matching: x), geometry: g)]
        }
    }

    /// Adaptive average pooling to `size` (exact for divisible sizes; general windows otherwise).
    public func adaptiveAvgPool2d(_ size: (Int, Int)) -> Tensor {
        precondition(rank == 4, "adaptiveAvgPool2d needs an NCHW input, got \(shape)")
        let (h, w) = (shape[2], shape[3])
        if size == (1, 1) { return mean(axes: [2, 3], keepingDimensions: true) }
        if h % size.0 == 0 && w % size.1 == 0 {
            let k = (h / size.0, w / size.1)
            return avgPool2d(kernel: k, stride: k)
        }
        return adaptive(size) { $0.mean(axes: [2, 3], keepingDimensions: true) }
    }

    /// Adaptive max pooling to `size`. Divisible sizes (global pooling included) run as max
    /// pooling with the window as stride, so each window's gradient goes to its first maximum,
    /// as in PyTorch; other sizes reduce each window with `max(axes:)`, which shares it among ties.
    public func adaptiveMaxPool2d(_ size: (Int, Int)) -> Tensor {
        precondition(rank == 4, "adaptiveMaxPool2d needs an NCHW input, got \(shape)")
        let (h, w) = (shape[2], shape[3])
        if h % size.0 == 0 && w % size.1 == 0 {
            let k = (h / size.0, w / size.1)
            return maxPool2d(kernel: k, stride: k)
        }
        return adaptive(size) { $0.max(axes: [2, 3], keepingDimensions: true) }
    }

    /// PyTorch's adaptive windows: start = floor(i·in/out), end = ceil((i+1)·in/out).
    private func adaptive(_ size: (Int, Int), _ reduce: (Tensor) -> Tensor) -> Tensor {
        let (h, w) = (shape[2], shape[3])
        var rows: [Tensor] = []
        for i in 0..<size.0 {
            let h0 = i * h / size.0, h1 = ((i + 1) * h + size.0 - 1) / size.0
            var cols: [Tensor] = []
            for j in 0..<size.1 {
                let w0 = j * w / size.1, w1 = ((j + 1) * w + size.1 - 1) / size.1
                cols.append(reduce(slice(axis: 2, h0..<h1).slice(axis: 3, w0..<w1)))
            }
            rows.append(Tensor.concatenate(cols, axis: 3))
        }
        return Tensor.concatenate(rows, axis: 2)
    }
}
