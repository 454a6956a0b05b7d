import CDNNL

extension DNNL {
    /// Bytes of the workspace that `maxPool2dForward` fills in training and
    /// `maxPool2dBackward` reads (oneDNN's record of where each maximum was).
    /// - Parameter g: The pooling geometry.
    public static func maxPoolWorkspaceByteCount(_ g: PoolGeometry) -> Int {
        PoolPlans.maxForward(g, training: true).workspaceBytes
    }

    /// Max pooling; padding counts as -infinity.
    /// - Parameters:
    ///   - g: The pooling geometry.
    ///   - source: `[batch, channels, inHeight, inWidth]`.
    ///   - destination: `[batch, channels, outHeight, outWidth]`, overwritten.
    ///   - workspace: `maxPoolWorkspaceByteCount(g)` bytes to keep for the backward pass, or nil
    ///     for inference.
    public static func maxPool2dForward(_ g: PoolGeometry, source: UnsafePointer<Float>,
                                        destination: UnsafeMutablePointer<Float>,
                                        workspace: UnsafeMutableRawPointer?) {
        let plan = PoolPlans.maxForward(g, training: workspace != nil)
        var bindings = [(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DST, raw(destination))]
        if let workspace { bindings.append((DNNL_ARG_WORKSPACE, workspace)) }
        plan.execute(bindings)
    }

    /// Gradient of max pooling: each output gradient goes to the position of its maximum.
    /// - Parameters:
    ///   - g: The pooling geometry.
    ///   - destinationGradient: `[batch, channels, outHeight, outWidth]`.
    ///   - workspace: The workspace filled by the training forward pass.
    ///   - sourceGradient: `[batch, channels, inHeight, inWidth]`, overwritten.
    public static func maxPool2dBackward(_ g: PoolGeometry,
                                         destinationGradient: UnsafePointer<Float>,
                                         workspace: UnsafeRawPointer,
                                         sourceGradient: UnsafeMutablePointer<Float>) {
        let plan = DNNLContext.shared.plan(.maxPoolBackward(g)) {
            PoolPlans.backward(g, algorithm: dnnl_pooling_max)
        }
        plan.execute([(DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                      (DNNL_ARG_WORKSPACE, UnsafeMutableRawPointer(mutating: workspace)),
                      (DNNL_ARG_DIFF_SRC, raw(sourceGradient))])
    }

    /// Average pooling with PyTorch's `count_include_pad` and `ceil_mode` semantics.
    /// - Parameters:
    ///   - g: The pooling geometry.
    ///   - source: `[batch, channels, inHeight, inWidth]`.
    ///   - destination: `[batch, channels, outHeight, outWidth]`, overwritten.
    public static func avgPool2dForward(_ g: PoolGeometry, source: UnsafePointer<Float>,
                                        destination: UnsafeMutablePointer<Float>) {
        let plan = DNNLContext.shared.plan(.avgPoolForward(g)) {
            PoolPlans.forward(g, algorithm: PoolPlans.averageAlgorithm(g), training: false)
        }
        plan.execute([(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DST, raw(destination))])
        PoolPlans.correctOverhang(g, destination)
    }

    /// Gradient of average pooling.
    /// - Parameters:
    ///   - g: The pooling geometry.
    ///   - destinationGradient: `[batch, channels, outHeight, outWidth]`.
    ///   - sourceGradient: `[batch, channels, inHeight, inWidth]`, overwritten.
    public static func avgPool2dBackward(_ g: PoolGeometry,
                                         destinationGradient: UnsafePointer<Float>,
                                         sourceGradient: UnsafeMutablePointer<Float>) {
        let plan = DNNLContext.shared.plan(.avgPoolBackward(g)) {
            PoolPlans.backward(g, algorithm: PoolPlans.averageAlgorithm(g))
        }
        guard PoolPlans.hasOverhang(g) else {
            plan.execute([(DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                          (DNNL_ARG_DIFF_SRC, raw(sourceGradient))])
            return
        }
        // Rescale a copy of the gradient so oneDNN's fixed divisor becomes PyTorch's.
        let count = g.batch * g.channels * g.outHeight * g.outWidth
        let scaled = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { scaled.deallocate() }
        scaled.update(from: destinationGradient, count: count)
        PoolPlans.correctOverhang(g, scaled)
        plan.execute([(DNNL_ARG_DIFF_DST, raw(scaled)), (DNNL_ARG_DIFF_SRC, raw(sourceGradient))])
    }
}

/// Builds the cached pooling plans; pooling runs on the plain NCHW layout.
enum PoolPlans {
    static func maxForward(_ g: PoolGeometry, training: Bool) -> Plan {
        DNNLContext.shared.plan(.maxPoolForward(g, training: training)) {
            forward(g, algorithm: dnnl_pooling_max, training: training)
        }
    }

    static func averageAlgorithm(_ g: PoolGeometry) -> dnnl_alg_kind_t {
        g.countIncludePad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding
    }

    struct Descs {
        var source, destination: dnnl_memory_desc_t
        var strides, kernel, paddingLeft, paddingRight: [Int64]

        init(_ g: PoolGeometry) {
            g.validate()
            let context = DNNLContext.shared
            let layout = g.layout.tag
            source = context.desc([g.batch, g.channels, g.inHeight, g.inWidth], layout)
            destination = context.desc([g.batch, g.channels, g.outHeight, g.outWidth], layout)
            strides = [Int64(g.strideHeight), Int64(g.strideWidth)]
            kernel = [Int64(g.kernelHeight), Int64(g.kernelWidth)]
            paddingLeft = [Int64(g.padHeight), Int64(g.padWidth)]
            // Ceil mode is a larger right padding that oneDNN never reads as data.
            paddingRight = [
                Int64(PoolGeometry.trailingPad(g.inHeight, g.kernelHeight, g.strideHeight,
                                               g.padHeight, g.outHeight)),
                Int64(PoolGeometry.trailingPad(g.inWidth, g.kernelWidth, g.strideWidth,
                                               g.padWidth, g.outWidth)),
            ]
        }
    }

    static func forwardDesc(_ g: PoolGeometry, algorithm: dnnl_alg_kind_t,
                            training: Bool) -> dnnl_primitive_desc_t {
        var d = Descs(g)
        var op = dnnl_pooling_desc_t()
        dnnlCheck(dnnl_pooling_forward_desc_init(
            &op, training ? dnnl_forward_training : dnnl_forward_inference, algorithm,
            &d.source, &d.destination, d.strides, d.kernel, d.paddingLeft, d.paddingRight),
            "pooling_forward_desc_init \(g)")
        return DNNLContext.shared.primitiveDesc(&op, "pooling forward \(g)")
    }

    static func forward(_ g: PoolGeometry, algorithm: dnnl_alg_kind_t, training: Bool) -> Plan {
        let context = DNNLContext.shared
        let d = Descs(g)
        let pd = forwardDesc(g, algorithm: algorithm, training: training)
        defer { dnnl_primitive_desc_destroy(pd) }
        var edges: [(arg: Int32, edge: Edge)] = [
            (DNNL_ARG_SRC, Edge(.input, plain: d.source, "pool src")),
            (DNNL_ARG_DST, Edge(.output, plain: d.destination, "pool dst")),
        ]
        var workspaceBytes = 0
        if training && algorithm == dnnl_pooling_max {
            var workspace = context.query(pd, dnnl_query_workspace_md, "max pool")
            workspaceBytes = dnnl_memory_desc_get_size(&workspace)
            edges.append((DNNL_ARG_WORKSPACE, Edge(.output, plain: workspace, "pool workspace")))
        }
        return Plan("pooling forward [\(context.implementation(pd))]", pd: pd, edges: edges,
                    workspaceBytes: workspaceBytes)
    }

    static func backward(_ g: PoolGeometry, algorithm: dnnl_alg_kind_t) -> Plan {
        let context = DNNLContext.shared
        var d = Descs(g)
        let hint = forwardDesc(g, algorithm: algorithm, training: true)
        defer { dnnl_primitive_desc_destroy(hint) }
        var op = dnnl_pooling_desc_t()
        dnnlCheck(dnnl_pooling_backward_desc_init(
            &op, algorithm, &d.source, &d.destination, d.strides, d.kernel, d.paddingLeft,
            d.paddingRight), "pooling_backward_desc_init \(g)")
        let pd = context.primitiveDesc(&op, hint: hint, "pooling backward \(g)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var edges: [(arg: Int32, edge: Edge)] = [
            (DNNL_ARG_DIFF_DST, Edge(.input, plain: d.destination, "pool diff_dst")),
            (DNNL_ARG_DIFF_SRC, Edge(.output, plain: d.source, "pool diff_src")),
        ]
        if algorithm == dnnl_pooling_max {
            let workspace = context.query(pd, dnnl_query_workspace_md, "max pool backward")
            edges.append((DNNL_ARG_WORKSPACE, Edge(.input, plain: workspace, "pool workspace")))
        }
        return Plan("pooling backward [\(context.implementation(pd))]", pd: pd, edges: edges)
    }

    /// Window extent along one axis, clipped to the padded input as PyTorch's divisor is.
    static func extent(_ index: Int, _ input: Int, _ kernel: Int, _ stride: Int,
                       _ pad: Int) -> Int {
        let start = index * stride - pad
        return min(start + kernel, input + pad) - start
    }

    /// True when ceil mode lets a window run past the right padding while PyTorch still counts
    /// padding: oneDNN then divides by the full window, PyTorch by the clipped one. Only the
    /// last row and column can overhang.
    static func hasOverhang(_ g: PoolGeometry) -> Bool {
        g.ceilMode && g.countIncludePad
            && (extent(g.outHeight - 1, g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight)
                    < g.kernelHeight
                || extent(g.outWidth - 1, g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth)
                    < g.kernelWidth)
    }

    /// Multiplies the overhanging outputs by full window / clipped window.
    static func correctOverhang(_ g: PoolGeometry, _ values: UnsafeMutablePointer<Float>) {
        guard hasOverhang(g) else { return }
        let oh = g.outHeight, ow = g.outWidth
        let lastRow = extent(oh - 1, g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight)
        let lastColumn = extent(ow - 1, g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth)
        let rowScale = Float(g.kernelHeight) / Float(lastRow)
        let columnScale = Float(g.kernelWidth) / Float(lastColumn)
        for plane in 0..<(g.batch * g.channels) {
            let base = values + plane * oh * ow
            if lastRow < g.kernelHeight {
                for x in 0..<ow { base[(oh - 1) * ow + x] *= rowScale }
            }
            if lastColumn < g.kernelWidth {
                for y in 0..<oh { base[y * ow + ow - 1] *= columnScale }
            }
        }
    }
}
